//! `accesslog witness init|serve|show`: a witness (C2SP tlog-witness) as a small mode of
//! the same binary, with its own key and state in its own folder. Run it somewhere the
//! log's operator cannot write: its worth is that it is someone else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use accesslog_core::SystemClock;
use accesslog_core::checkpoint::NoteVerifier;
use accesslog_witness::Witness;
use accesslog_witness::state::{FollowedLog, WitnessDir};
use anyhow::Context;
use clap::{Args, Subcommand};

/// Run a witness that cosigns a log's checkpoints only while the log stays append-only
#[derive(Debug, Args)]
pub struct Opts {
    #[command(subcommand)]
    command: WitnessCommand,
}

#[derive(Debug, Subcommand)]
enum WitnessCommand {
    /// Create a witness in a new folder: a fresh key, and the logs it follows
    Init(InitOpts),
    /// Serve the witness's HTTP API (POST /add-checkpoint, GET /{origin hash}/checkpoint)
    Serve(ServeOpts),
    /// Print the witness's verifier key, what it follows, and what it refused
    Show(ShowOpts),
}

#[derive(Debug, Args)]
struct InitOpts {
    /// The witness's folder (created).
    #[arg(long)]
    dir: PathBuf,
    /// The witness's key name, e.g. witness.example/w1.
    #[arg(long)]
    name: String,
    /// The verifier key of a log to follow (a site's keys/log.pub); repeat for more.
    #[arg(long = "log", required = true)]
    logs: Vec<String>,
}

#[derive(Debug, Args)]
struct ServeOpts {
    #[arg(long)]
    dir: PathBuf,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: SocketAddr,
}

#[derive(Debug, Args)]
struct ShowOpts {
    #[arg(long)]
    dir: PathBuf,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    match opts.command {
        WitnessCommand::Init(o) => init(o),
        WitnessCommand::Serve(o) => serve(o).await,
        WitnessCommand::Show(o) => show(o),
    }
}

fn init(o: InitOpts) -> anyhow::Result<()> {
    let mut logs: Vec<FollowedLog> = Vec::new();
    for key in &o.logs {
        let verifier = NoteVerifier::from_verifier_key(key)
            .with_context(|| format!("--log {key:?} is not a log's verifier key"))?;
        match logs.iter_mut().find(|l| l.origin == verifier.name()) {
            Some(log) => log.keys.push(key.trim().to_owned()),
            None => logs.push(FollowedLog {
                origin: verifier.name().to_owned(),
                keys: vec![key.trim().to_owned()],
            }),
        }
    }
    let dir = WitnessDir::new(&o.dir);
    let cosigner = dir.create(&o.name, logs)?;
    println!("Created the witness {} in {}.", o.name, o.dir.display());
    println!("Its verifier key, for the site's [[log.witnesses]]:");
    println!("{}", cosigner.verifier_key());
    Ok(())
}

async fn serve(o: ServeOpts) -> anyhow::Result<()> {
    let witness = Arc::new(Witness::open(WitnessDir::new(&o.dir))?);
    let listener = tokio::net::TcpListener::bind(o.listen)
        .await
        .with_context(|| format!("cannot listen on {}", o.listen))?;
    let addr = listener.local_addr().unwrap_or(o.listen);
    println!(
        "Witness {} serving on http://{addr} (key {})",
        witness.name(),
        witness.verifier_key()
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    accesslog_witness::http::serve(listener, witness, Arc::new(SystemClock), shutdown)
        .await
        .context("the witness server failed")
}

fn show(o: ShowOpts) -> anyhow::Result<()> {
    let dir = WitnessDir::new(&o.dir);
    let witness = Witness::open(dir.clone())?;
    println!("witness {}", witness.name());
    println!("verifier key {}", witness.verifier_key());
    for log in dir.config()?.logs {
        match witness.latest_note(&log.origin) {
            Some(note) => {
                let size = note.lines().nth(1).unwrap_or("?");
                println!("follows {}: cosigned up to {size} entries", log.origin);
            }
            None => println!("follows {}: nothing cosigned yet", log.origin),
        }
    }
    let refused = dir.refusals()?;
    println!("{} refused checkpoints kept as evidence", refused.len());
    for r in refused {
        println!("  at {} ({}): {}", r["at"], r["status"], r["reason"]);
    }
    Ok(())
}
