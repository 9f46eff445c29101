//! Online backup and checked, atomic restore.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use grocery_core::{Config, Error, Grocery, NewItem};

async fn open(path: &Path) -> Grocery {
    let mut config = Config::default();
    config.store.path = Some(path.to_path_buf());
    Grocery::open(config).await.unwrap()
}

/// Run `f` on a runtime of its own, dropped at the end with every task on it,
/// so each handle opened inside is closed when this returns.
fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The item names on `list` in a database, in order.
async fn items_of(path: &Path, list: &str) -> Vec<String> {
    let g = open(path).await;
    let l = g.lists().find(list).await.unwrap();
    l.items.into_iter().map(|i| i.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_a_writer_commits_restores_every_item_committed_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let g = open(&db).await;
    let list = g.lists().create("Busy").await.unwrap();

    // The writer adds "item 1", "item 2", ... one transaction each, and
    // publishes how many are committed.
    let (committed, mut seen) = tokio::sync::watch::channel(0_u64);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (g, stop) = (g.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut n = 0_u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                g.lists()
                    .add_item(list.id, NewItem::new(format!("item {n}")))
                    .await?;
                committed.send_replace(n);
            }
            Ok::<_, Error>(n)
        })
    };
    seen.wait_for(|n| *n >= 20).await.unwrap();
    let before = *seen.borrow();

    // After every step of the copy, wait until the writer has committed again:
    // the backup and the writes interleave on every run, without sleeps.
    let steps = Arc::new(AtomicU64::new(0));
    let progress = {
        let (steps, runtime) = (Arc::clone(&steps), tokio::runtime::Handle::current());
        let mut seen = seen.clone();
        move |_| {
            steps.fetch_add(1, Ordering::SeqCst);
            let now = *seen.borrow_and_update();
            // Called on a blocking-pool thread, outside the async context.
            runtime.block_on(seen.wait_for(|n| *n > now)).unwrap();
        }
    };
    let backup = dir.path().join("backup.db");
    let info = g.backup_with_progress(&backup, progress).await.unwrap();
    let during = *seen.borrow();
    stop.store(true, Ordering::SeqCst);
    let last = writer.await.unwrap().unwrap();
    assert!(steps.load(Ordering::SeqCst) >= 1);
    assert!(
        during > before,
        "the writer kept committing during the backup"
    );
    assert!(info.bytes > 0 && info.products > 1_000, "{info:?}");
    assert_eq!(info.lists, 1);

    let restored = dir.path().join("restored.db");
    let r = grocery_core::restore(&backup, &restored).await.unwrap();
    assert_eq!(r.items, info.items);
    let names = items_of(&restored, "Busy").await;
    let k = names.len() as u64;
    assert!(
        k >= before,
        "{k} items; {before} were committed before the backup"
    );
    assert!(k < last, "a snapshot, not the end state ({k} of {last})");
    let expected: Vec<String> = (1..=k).map(|n| format!("item {n}")).collect();
    assert_eq!(names, expected, "a prefix of the commits, no gaps");
}

#[test]
fn restore_refuses_what_is_not_a_sound_grocery_database_and_keeps_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("g.db");
    run(async {
        open(&target).await.lists().create("Keep me").await.unwrap();
    });
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database ".repeat(1_000)).unwrap();
    let foreign = dir.path().join("foreign.db");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    for bad in [&junk, &foreign, &empty] {
        let err = run(grocery_core::restore(bad, &target)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(_)),
            "{}: {err}",
            bad.display()
        );
    }
    let err = run(grocery_core::restore(
        dir.path().join("missing.db"),
        &target,
    ))
    .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    run(async {
        assert!(open(&target).await.lists().find("Keep me").await.is_ok());
    });
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn restore_refuses_a_database_in_use_and_replaces_it_once_free() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let target = dir.path().join("g.db");
    run(async {
        let g = open(&dir.path().join("source.db")).await;
        g.lists().create("From the backup").await.unwrap();
        g.backup(&backup).await.unwrap();
        open(&target).await.lists().create("Current").await.unwrap();
    });
    // Another process's idle connection, as a server between requests has.
    let other = rusqlite::Connection::open(&target).unwrap();
    other
        .query_row("SELECT count(*) FROM lists", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let err = run(grocery_core::restore(&backup, &target)).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    drop(other);
    let info = run(grocery_core::restore(&backup, &target)).unwrap();
    assert_eq!(info.lists, 1);
    run(async {
        let g = open(&target).await;
        assert!(g.lists().find("From the backup").await.is_ok());
        assert!(g.lists().find("Current").await.is_err());
    });
}

#[tokio::test]
async fn backup_refuses_to_overwrite_the_database_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let g = open(&db).await;
    let err = g.backup(&db).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
}
