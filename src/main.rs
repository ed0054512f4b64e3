//! The `stagerepo` binary: parse the command line, set up logging, dispatch.

use clap::Parser;
use stagerepo::cli::{Cli, Command};
use stagerepo::config::{Config, Overrides};

// Serving allocates and frees small buffers per request; mimalloc's thread-local free lists cost
// far less than glibc's malloc there (measured in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    if stagerepo::cli::print_version_if_asked(&std::env::args().collect::<Vec<_>>()) {
        return Ok(());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen,
                data_dir: args.data_dir,
                public_url: args.public_url,
                max_upload_size: args.max_upload_size,
            };
            let config = Config::load(args.config.as_deref(), overrides.clone())?;
            stagerepo::ops::logging::init(config.log_format);
            let source = stagerepo::server::ConfigSource {
                file: args.config,
                overrides,
            };
            // Worker threads: TOKIO_WORKER_THREADS, else one per core.
            let runtime = tokio::runtime::Runtime::new()?;
            let result = runtime.block_on(stagerepo::server::serve_with_reload(config, source));
            stagerepo::ops::logging::flush();
            result?;
            Ok(())
        }
        command => {
            restore_default_sigpipe();
            if let Err(e) = stagerepo::cli::run_client(command) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Client commands are often piped into `head` or `grep -q`: like other Unix tools they should
/// end quietly when the reader goes away instead of panicking on the broken pipe (Rust ignores
/// SIGPIPE by default, so every `println!` would fail).
fn restore_default_sigpipe() {
    // SAFETY: called before any other thread exists; SIG_DFL is always a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
