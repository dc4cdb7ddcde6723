//! The history of every conversation and group, in one SQLite database in the data directory.
//!
//! Every record is committed (WAL, `synchronous=FULL`) before the message is acked or sent,
//! so `kill -9` at any moment loses nothing that anyone was told had arrived, and a message
//! stored again (a peer sending once more what was acked just before a crash) is kept once:
//! a conversation holds each message id once. One process writes, under a lock on the data
//! directory, so a second one is told at once rather than the two taking turns; any number
//! read beside it (`history`, `search`, the chat's paging), which WAL allows.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::groups::{GroupRecord, StoredGroup, fold_group};
use super::message::{Direction, MessageState, Record, StoredMessage};
use super::{Conversation, ConversationKey, StoreError, legacy};
use crate::proto::PathKind;
use crate::proto::group::GroupId;

/// The database's name in the data directory.
pub const DB_FILE: &str = "history.db";
/// What the writer holds; it names the process, for the message the next one gets.
const LOCK_FILE: &str = "history.lock";
/// How long a reader waits for the writer's checkpoint, or the writer for a reader's.
const BUSY_WAIT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    n INTEGER PRIMARY KEY,
    conv TEXT NOT NULL,
    id INTEGER NOT NULL,
    dir TEXT NOT NULL,
    peer TEXT NOT NULL,
    path TEXT,
    at INTEGER NOT NULL,
    sent_at INTEGER,
    text TEXT NOT NULL,
    plain INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    UNIQUE (conv, id)
);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (conv, at);
CREATE INDEX IF NOT EXISTS messages_owed ON messages (state) WHERE state IN ('pending', 'queued');
CREATE INDEX IF NOT EXISTS messages_received ON messages (dir, n);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts
    USING fts5 (text, content = 'messages', content_rowid = 'n', tokenize = 'trigram');
CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.n, new.text);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.n, old.text);
END;
CREATE TABLE IF NOT EXISTS group_records (
    n INTEGER PRIMARY KEY,
    gid TEXT NOT NULL,
    rec TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS group_records_by_group ON group_records (gid, n);
";

/// The columns [`message_from_row`] reads, in its order.
pub(super) const MESSAGE_COLUMNS: &str = "id, dir, peer, path, at, sent_at, text, plain, state";

/// A record waiting for the next commit.
enum Pending {
    Message(ConversationKey, Record),
    Group(GroupId, String),
}

/// The database, and the records waiting to be committed.
pub struct History {
    pub(super) conn: Connection,
    /// `<data dir>/history`: where the earlier versions' files are, and small files beside.
    dir: PathBuf,
    db: PathBuf,
    pending: Vec<Pending>,
    /// Held while this one writes; `None` for a reader.
    _lock: Option<File>,
}

impl History {
    /// Opens the history to write, creating it and reading in the files of an earlier version
    /// the first time. Fails with [`StoreError::Busy`] while another process writes it.
    pub fn open(data_dir: &Path) -> Result<History, StoreError> {
        let lock = take_lock(data_dir)?.ok_or_else(|| busy(data_dir))?;
        let mut history = History::connect(data_dir, Some(lock))?;
        history.import()?;
        Ok(history)
    }

    /// Opens the history to read only, beside a writer if there is one.
    pub fn open_read(data_dir: &Path) -> Result<History, StoreError> {
        let mut history = History::connect(data_dir, None)?;
        if !history.imported()? {
            // Nobody has written since an earlier version: read its files in first, unless a
            // writer just started, which does that itself.
            if let Some(lock) = take_lock(data_dir)? {
                history._lock = Some(lock);
                history.import()?;
                history._lock = None;
            }
        }
        Ok(history)
    }

    fn connect(data_dir: &Path, lock: Option<File>) -> Result<History, StoreError> {
        let dir = data_dir.join("history");
        fs::create_dir_all(&dir).map_err(|source| StoreError::Dir {
            path: dir.clone(),
            source,
        })?;
        let db = data_dir.join(DB_FILE);
        let db_err = |source| StoreError::Db {
            path: db.clone(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&db, flags).map_err(db_err)?;
        conn.busy_timeout(BUSY_WAIT).map_err(db_err)?;
        // WAL: readers never block the writer; FULL: a commit is on disk when it returns.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(History {
            conn,
            dir,
            db,
            pending: Vec::new(),
            _lock: lock,
        })
    }

    /// `<data dir>/history`, where small files that go with the history are kept.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db
    }

    pub(super) fn db_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Db {
            path: self.db.clone(),
            source,
        }
    }

    fn imported(&self) -> Result<bool, StoreError> {
        let found: Option<String> = self
            .conn
            .query_row("SELECT v FROM meta WHERE k = 'imported'", [], |r| r.get(0))
            .optional()
            .map_err(self.db_err())?;
        Ok(found.is_some())
    }

    /// Reads the files of an earlier version in, once: the conversations, then the groups,
    /// in one transaction with the mark that it was done, so a crash half way leaves nothing
    /// to count twice. The files stay as they were.
    fn import(&mut self) -> Result<(), StoreError> {
        if self.imported()? {
            return Ok(());
        }
        for key in legacy::conversation_keys(&self.dir)? {
            let path = legacy::conversation_path(&self.dir, &key);
            for m in legacy::load_conversation(&path)? {
                self.pending
                    .push(Pending::Message(key.clone(), Record::from(m)));
            }
        }
        let groups_dir = super::groups::groups_dir(&self.dir);
        for (id, records) in super::groups::legacy_records(&groups_dir)? {
            for record in records {
                self.append_group(id, &record);
            }
        }
        self.commit_with(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO meta (k, v) VALUES ('imported', ?1)",
                [Timestamp::now().to_string()],
            )
            .map(drop)
        })
    }

    /// Queues a record; it reaches the disk at the next [`History::commit`].
    pub fn append(&mut self, key: &ConversationKey, record: &Record) {
        self.pending
            .push(Pending::Message(key.clone(), record.clone()));
    }

    /// Queues a record of a group; it reaches the disk at the next [`History::commit`].
    pub fn append_group(&mut self, id: GroupId, record: &GroupRecord) {
        // Serializing these plain types cannot fail.
        if let Ok(json) = serde_json::to_string(record) {
            self.pending.push(Pending::Group(id, json));
        }
    }

    /// True when records are waiting for [`History::commit`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes everything queued in one transaction, on disk when this returns.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.commit_with(|_| Ok(()))
    }

    fn commit_with(
        &mut self,
        also: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending);
        let db = self.db.clone();
        let result = (|| {
            let tx = self.conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO messages \
                     (conv, id, dir, peer, path, at, sent_at, text, plain, state) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                let mut update = tx
                    .prepare_cached("UPDATE messages SET state = ?3 WHERE conv = ?1 AND id = ?2")?;
                let mut group =
                    tx.prepare_cached("INSERT INTO group_records (gid, rec) VALUES (?1, ?2)")?;
                for p in &pending {
                    match p {
                        Pending::Message(
                            key,
                            Record::Msg {
                                id,
                                dir,
                                peer,
                                path,
                                at,
                                sent_at,
                                text,
                                plain,
                                state,
                            },
                        ) => {
                            insert.execute(params![
                                key.as_str(),
                                id_to_sql(*id),
                                dir.name(),
                                peer,
                                path.map(PathKind::name),
                                time_to_sql(*at),
                                sent_at.map(time_to_sql),
                                text,
                                plain,
                                state.name(),
                            ])?;
                        }
                        Pending::Message(key, Record::State { id, state }) => {
                            update.execute(params![key.as_str(), id_to_sql(*id), state.name()])?;
                        }
                        Pending::Group(id, json) => {
                            group.execute(params![id.to_hex(), json])?;
                        }
                    }
                }
            }
            also(&tx)?;
            tx.commit()
        })();
        result.map_err(|source| StoreError::Db { path: db, source })
    }

    /// A whole conversation, oldest first.
    pub fn load(&self, key: &ConversationKey) -> Result<Vec<StoredMessage>, StoreError> {
        self.query_messages(
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 ORDER BY n"),
            params![key.as_str()],
        )
    }

    /// The last `count` messages of a conversation, oldest first: enough to draw a screen
    /// at once, however long the history.
    pub fn load_recent(
        &self,
        key: &ConversationKey,
        count: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut messages = self.query_messages(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 \
                 ORDER BY at DESC, n DESC LIMIT ?2"
            ),
            params![key.as_str(), count_to_sql(count)],
        )?;
        messages.reverse();
        Ok(messages)
    }

    /// Up to `count` messages of a conversation written at or before `at`, oldest first: the
    /// page before what is shown. Messages at exactly `at` come again; the caller drops those
    /// it holds, so two written in the same instant are never lost between pages.
    pub fn load_before(
        &self,
        key: &ConversationKey,
        at: Timestamp,
        count: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut messages = self.query_messages(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND at <= ?2 \
                 ORDER BY at DESC, n DESC LIMIT ?3"
            ),
            params![key.as_str(), time_to_sql(at), count_to_sql(count)],
        )?;
        messages.reverse();
        Ok(messages)
    }

    /// Every message of a conversation from `from` to `to` (both included), oldest first.
    pub fn load_between(
        &self,
        key: &ConversationKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.query_messages(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND at >= ?2 AND at <= ?3 \
                 ORDER BY at, n"
            ),
            params![key.as_str(), time_to_sql(from), time_to_sql(to)],
        )
    }

    pub(super) fn query_messages(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.db_err())?;
        let rows = stmt
            .query_map(params, |row| Ok(message_from_row(row, 0)))
            .map_err(self.db_err())?;
        let mut out = Vec::new();
        let mut peer: Arc<str> = Arc::from("");
        for row in rows {
            if let Some(mut m) = row.map_err(self.db_err())? {
                // One allocation per conversation's address rather than per message.
                if *peer == *m.peer {
                    m.peer = Arc::clone(&peer);
                } else {
                    peer = Arc::clone(&m.peer);
                }
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Every conversation, each with its last `count` messages.
    pub fn conversations(&self, count: usize) -> Result<Vec<Conversation>, StoreError> {
        self.keys()?
            .into_iter()
            .map(|key| {
                let messages = self.load_recent(&key, count)?;
                Ok(Conversation { key, messages })
            })
            .collect()
    }

    /// What a starting engine needs and no more, however long the history: every outgoing
    /// message still owed, and the last `received` messages that came in (so that one sent
    /// again is recognised), as conversations.
    pub fn startup(&self, received: usize) -> Result<Vec<Conversation>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT conv, {MESSAGE_COLUMNS} FROM messages \
                 WHERE n IN (SELECT n FROM messages WHERE state IN ('pending', 'queued') \
                             UNION SELECT n FROM (SELECT n FROM messages WHERE dir = 'in' \
                                                  ORDER BY n DESC LIMIT ?1)) \
                 ORDER BY conv, n"
            ))
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map(params![count_to_sql(received)], |row| {
                Ok((row.get::<_, String>(0)?, message_from_row(row, 1)))
            })
            .map_err(self.db_err())?;
        let mut out: Vec<Conversation> = Vec::new();
        for row in rows {
            let (key, message) = row.map_err(self.db_err())?;
            let Some(message) = message else { continue };
            match out.last_mut() {
                Some(c) if c.key == *key.as_str() => c.messages.push(message),
                _ => out.push(Conversation {
                    key: ConversationKey::new(key),
                    messages: vec![message],
                }),
            }
        }
        Ok(out)
    }

    /// Every conversation, by key. One index seek per conversation (a skip scan written
    /// out), where `SELECT DISTINCT` would read the whole index: the chat's first frame
    /// waits for this, however long the history.
    pub fn keys(&self) -> Result<Vec<ConversationKey>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "WITH RECURSIVE c(conv) AS ( \
                     SELECT min(conv) FROM messages \
                     UNION ALL \
                     SELECT (SELECT min(conv) FROM messages WHERE conv > c.conv) FROM c \
                     WHERE c.conv IS NOT NULL) \
                 SELECT conv FROM c WHERE conv IS NOT NULL",
            )
            .map_err(self.db_err())?;
        let keys = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(self.db_err())?
            .map(|k| k.map(ConversationKey::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.db_err())?;
        Ok(keys)
    }

    /// Renames a conversation (the contact was renamed). When the new name already has a
    /// history, the old one joins it rather than replacing it.
    pub fn rename(
        &mut self,
        from: &ConversationKey,
        to: &ConversationKey,
    ) -> Result<(), StoreError> {
        self.commit()?;
        if from == to {
            return Ok(());
        }
        let (from, to) = (from.as_str().to_owned(), to.as_str().to_owned());
        self.commit_with(move |tx| {
            // A message both hold stays where it is already.
            tx.execute(
                "UPDATE OR IGNORE messages SET conv = ?2 WHERE conv = ?1",
                params![from, to],
            )?;
            tx.execute("DELETE FROM messages WHERE conv = ?1", params![from])?;
            Ok(())
        })
    }

    /// Deletes a conversation (a stranger's request dropped to make room).
    pub fn forget(&mut self, key: &ConversationKey) -> Result<(), StoreError> {
        self.commit()?;
        let key = key.as_str().to_owned();
        self.commit_with(move |tx| {
            tx.execute("DELETE FROM messages WHERE conv = ?1", params![key])
                .map(drop)
        })
    }

    /// The conversations with addresses rather than contacts (requests): each with when its
    /// last message was written and the bytes of text it holds.
    pub fn requests(&self) -> Result<Vec<(ConversationKey, Timestamp, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT conv, max(at), sum(length(CAST(text AS BLOB))) FROM messages \
                 WHERE conv >= ?1 AND conv < ?2 GROUP BY conv",
            )
            .map_err(self.db_err())?;
        // A range of the index, where `LIKE 'addr-%'` (case-blind) would read every
        // message at each start.
        let (start, end) = ConversationKey::address_range();
        let rows = stmt
            .query_map(params![start, end], |row| {
                Ok((
                    ConversationKey::new(row.get::<_, String>(0)?),
                    time_from_sql(row.get(1)?),
                    row.get::<_, i64>(2)?.max(0).cast_unsigned(),
                ))
            })
            .map_err(self.db_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db_err())
    }

    /// Every group.
    pub fn groups(&self) -> Result<Vec<StoredGroup>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT gid, rec FROM group_records ORDER BY gid, n")
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(self.db_err())?;
        let mut groups: Vec<(GroupId, Vec<GroupRecord>)> = Vec::new();
        for row in rows {
            let (gid, rec) = row.map_err(self.db_err())?;
            let (Some(id), Ok(record)) = (GroupId::from_hex(&gid), serde_json::from_str(&rec))
            else {
                continue;
            };
            match groups.last_mut() {
                Some((last, records)) if *last == id => records.push(record),
                _ => groups.push((id, vec![record])),
            }
        }
        Ok(groups
            .into_iter()
            .map(|(id, records)| fold_group(id, records))
            .collect())
    }
}

/// A stored message back as the record that wrote it, for the import.
impl From<StoredMessage> for Record {
    fn from(m: StoredMessage) -> Record {
        Record::Msg {
            id: m.id,
            dir: m.dir,
            peer: m.peer.to_string(),
            path: m.path,
            at: m.at,
            sent_at: m.sent_at,
            text: m.text,
            plain: m.plain,
            state: m.state,
        }
    }
}

/// A row of [`MESSAGE_COLUMNS`] from column `at`; `None` for a row this version cannot read
/// (a direction or state written by a later one), which is skipped like a torn line was.
pub(super) fn message_from_row(row: &Row, at: usize) -> Option<StoredMessage> {
    let get_str = |i: usize| row.get::<_, String>(at + i).ok();
    Some(StoredMessage {
        id: row.get::<_, i64>(at).ok()?.cast_unsigned(),
        dir: Direction::from_name(&get_str(1)?)?,
        peer: Arc::from(get_str(2)?),
        path: row
            .get::<_, Option<String>>(at + 3)
            .ok()
            .flatten()
            .and_then(|p| PathKind::from_name(&p)),
        at: time_from_sql(row.get(at + 4).ok()?),
        sent_at: row
            .get::<_, Option<i64>>(at + 5)
            .ok()
            .flatten()
            .map(time_from_sql),
        text: get_str(6)?,
        plain: row.get(at + 7).ok()?,
        state: MessageState::from_name(&get_str(8)?)?,
    })
}

/// Ids are any 64 bits; SQLite's integers are signed.
fn id_to_sql(id: u64) -> i64 {
    id.cast_signed()
}

/// Nanoseconds since 1970: exact, and ordered as the times are. A sender's clock outside
/// the years 1678..2261 is kept as the nearest end.
pub(super) fn time_to_sql(t: Timestamp) -> i64 {
    let ns = t.as_nanosecond();
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

fn time_from_sql(ns: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(super) fn count_to_sql(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// The writer's lock, or `None` while another process holds it. The lock file names the
/// holder's process id, for the message the next one gets.
fn take_lock(data_dir: &Path) -> Result<Option<File>, StoreError> {
    fs::create_dir_all(data_dir).map_err(|source| StoreError::Dir {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let path = data_dir.join(LOCK_FILE);
    let io_err = |source| StoreError::Dir {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Ok(None),
        Err(fs::TryLockError::Error(source)) => return Err(io_err(source)),
    }
    let wrote = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    wrote.map_err(io_err)?;
    Ok(Some(file))
}

fn busy(data_dir: &Path) -> StoreError {
    let mut holder = String::new();
    let _ = File::open(data_dir.join(LOCK_FILE)).and_then(|mut f| f.read_to_string(&mut holder));
    let pid = holder.trim().parse::<u32>().ok();
    StoreError::Busy {
        dir: data_dir.to_path_buf(),
        pid,
    }
}
