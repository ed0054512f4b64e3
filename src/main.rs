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
            disable_huge_pages();
            let overrides = Overrides {
                listen: args.listen,
                data_dir: args.data_dir,
                database_url: args.database_url,
                public_url: args.public_url,
                max_upload_size: args.max_upload_size,
            };
            let config = Config::load(args.config.as_deref(), overrides.clone())?;
            stagerepo::ops::logging::init(config.log_format);
            stagerepo::scrub::set_priority_hook(lower_thread_priority);
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

/// Opts the daemon out of transparent huge pages (EL's default is `always`). Publications
/// allocate and free buffers of a few hundred KiB (compressor state, block texts) that the
/// allocator hands back to the kernel between requests; with huge pages every fresh one
/// faults in, and the kernel zeroes, a whole 2 MiB page: a fifth of a publication's time in
/// profiles, and resident memory counted in 2 MiB steps.
fn disable_huge_pages() {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1 as libc::c_ulong, 0, 0, 0) };
    if r != 0 {
        eprintln!(
            "note: cannot opt out of transparent huge pages: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Lowers the calling thread to the idle I/O class and nice 19 (the background scrub's
/// thread; see `stagerepo::scrub`). Linux applies both per thread: `ioprio_set` with
/// `IOPRIO_WHO_PROCESS` and id 0 means the calling task, `setpriority` takes a thread id.
fn lower_thread_priority() -> Result<(), String> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_IDLE: libc::c_long = 3;
    const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
    // SAFETY: plain system calls with integer arguments; no memory is passed.
    let (io, tid) = unsafe {
        let io = libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT,
        );
        (io, libc::syscall(libc::SYS_gettid))
    };
    if io != 0 {
        return Err(format!("ioprio_set: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: as above.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) } != 0 {
        return Err(format!("setpriority: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}
