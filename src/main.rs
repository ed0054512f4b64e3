//! The `stagerepo` binary: parse the command line, set up logging, dispatch.

use clap::Parser;
use stagerepo::cli::{Cli, Command};
use stagerepo::config::{Config, Overrides};

fn main() -> anyhow::Result<()> {
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
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(stagerepo::server::serve_with_reload(config, source))?;
            Ok(())
        }
        command => {
            if let Err(e) = stagerepo::cli::run_client(command) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
