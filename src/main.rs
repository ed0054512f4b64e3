//! The `stagerepo` binary: parse the command line, set up logging, dispatch.

use clap::Parser;
use stagerepo::cli::{Cli, Command};
use stagerepo::config::{Config, Overrides};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("STAGEREPO_LOG")
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let config = Config::load(
                args.config.as_deref(),
                Overrides {
                    listen: args.listen,
                    data_dir: args.data_dir,
                    public_url: args.public_url,
                    max_upload_size: args.max_upload_size,
                },
            )?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(stagerepo::server::serve(config))?;
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
