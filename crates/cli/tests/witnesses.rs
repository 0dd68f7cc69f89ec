//! Witnesses end to end, as operators and auditors run them, on both backends: two
//! `accesslog witness serve` processes, a site that lists them with quorum 2, and the
//! attack they exist for: whoever holds the database and the site's key rewrites every
//! entry, rebuilds the tree and re-signs. Without witnesses `verify` cannot tell; with
//! `--witness … --quorum 2` it fails and says why, and the witnesses refuse to cosign.

mod common;

use common::{Running, accesslog, failed, ok, start};

use std::process::Output;

use accesslog_testkit::{Backend, TestDb};

fn run(args: &[String]) -> Output {
    accesslog().args(args).output().unwrap()
}

/// A witness process, killed when dropped.
fn serve_witness(dir: &std::path::Path) -> Running {
    let dir = dir.display().to_string();
    start(&["witness", "serve", "--listen", "127.0.0.1:0", "--dir", &dir])
}

async fn rewritten_logs_fail_verify_with_two_witnesses(backend: Backend) {
    let case = "rewritten_logs_fail_verify_with_two_witnesses";
    let Some(db) = TestDb::open(backend, case).await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let site_s = site.display().to_string();
    ok(run(&["new-site".into(), site_s.clone()]));
    let args = |cmd: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
        a.extend([
            "--site".into(),
            site_s.clone(),
            "--database".into(),
            db.url.clone(),
        ]);
        a
    };
    let log_key = std::fs::read_to_string(site.join("keys/log.pub")).unwrap();

    // Two witnesses, each with its own folder and key, following the site's log.
    let mut keys = Vec::new();
    let mut served = Vec::new();
    for n in ["w1", "w2"] {
        let dir = tmp.path().join(n);
        let (out, _) = ok(run(&[
            "witness".into(),
            "init".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--name".into(),
            format!("witness.example/{n}"),
            "--log".into(),
            log_key.trim().to_owned(),
        ]));
        keys.push(out.lines().last().unwrap().to_owned());
        served.push(serve_witness(&dir));
    }
    let mut toml = std::fs::read_to_string(site.join("site.toml")).unwrap();
    toml = toml.replacen("[log]\n", "[log]\nwitness_quorum = 2\n", 1);
    for (w, key) in served.iter().zip(&keys) {
        toml.push_str(&format!(
            "\n[[log.witnesses]]\nurl = \"{}\"\nkey = \"{key}\"\n",
            w.url
        ));
    }
    std::fs::write(site.join("site.toml"), toml).unwrap();
    let with_witnesses = |cmd: &[&str], quorum: &str| {
        let mut a = args(cmd);
        for k in &keys {
            a.extend(["--witness".into(), k.clone()]);
        }
        a.extend(["--quorum".into(), quorum.to_owned()]);
        a
    };

    // The honest log: entries, a checkpoint, both witnesses cosign it.
    ok(run(&args(&[
        "record-load",
        "--count",
        "20",
        "--writers",
        "2",
    ])));
    let (note, said) = ok(run(&args(&["checkpoint", "--publish"])));
    assert!(said.contains("2 cosigned, 0 refused"), "{said}");
    assert_eq!(
        note.matches("\u{2014} witness.example/").count(),
        2,
        "{note}"
    );
    let (out, _) = ok(run(&with_witnesses(&["verify"], "2")));
    assert!(
        out.contains("OK: 40 entries") && out.contains("cosigned by 2 of 2 witnesses"),
        "{out}"
    );
    let (out, _) = ok(run(&args(&["verify"])));
    assert!(out.contains("pass their keys with --witness"), "{out}");
    // The cosigned checkpoint, kept elsewhere with --out.
    let kept = tmp.path().join("kept-checkpoint");
    ok(run(&args(&["checkpoint", "--out", kept.to_str().unwrap()])));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), note);

    // The operator rewrites history: every entry replaced, the tree rebuilt, new
    // checkpoints signed with the site's key, the site's own copy of them removed.
    let empty = match backend {
        Backend::Sqlite => "x''",
        Backend::Postgres => "''::bytea",
    };
    for sql in [
        "DELETE FROM access_log".to_owned(),
        "DELETE FROM merkle_nodes".to_owned(),
        "DELETE FROM checkpoints".to_owned(),
        format!("UPDATE log_state SET size = 0, frontier = {empty}"),
    ] {
        db.execute(&sql).await;
    }
    std::fs::remove_file(site.join("checkpoints.log")).unwrap();
    ok(run(&args(&[
        "record-load",
        "--count",
        "25",
        "--writers",
        "2",
    ])));

    // The site's key alone is fooled...
    let (out, _) = ok(run(&args(&["verify"])));
    assert!(out.contains("OK: 50 entries"), "{out}");
    // ...the witnesses are not: they refuse, and verify with them fails, saying why.
    let (_, said) = ok(run(&args(&["checkpoint", "--publish"])));
    assert!(said.contains("0 cosigned, 2 refused"), "{said}");
    assert!(said.contains("REFUSED by witness.example/w"), "{said}");
    let err = failed(run(&with_witnesses(&["verify"], "2")));
    assert!(
        err.contains("VERIFICATION FAILED") && err.contains("none of the 2 witnesses"),
        "{err}"
    );
    // And the checkpoint kept before the rewrite names the fork on its own.
    let mut with_kept = args(&["verify"]);
    with_kept.extend(["--checkpoint".into(), kept.display().to_string()]);
    let err = failed(run(&with_kept));
    assert!(
        err.contains("fork") || err.contains("does not match"),
        "{err}"
    );
    // Each witness kept the refused checkpoint as evidence.
    for n in ["w1", "w2"] {
        let (out, _) = ok(run(&[
            "witness".into(),
            "show".into(),
            "--dir".into(),
            tmp.path().join(n).display().to_string(),
        ]));
        assert!(out.contains("cosigned up to 40 entries"), "{out}");
        assert!(
            out.contains("1 refused checkpoints kept as evidence"),
            "{out}"
        );
    }
    db.drop().await;
}

#[tokio::test]
async fn rewritten_logs_fail_verify_with_two_witnesses_on_sqlite() {
    rewritten_logs_fail_verify_with_two_witnesses(Backend::Sqlite).await;
}

#[tokio::test]
async fn rewritten_logs_fail_verify_with_two_witnesses_on_postgres() {
    rewritten_logs_fail_verify_with_two_witnesses(Backend::Postgres).await;
}
