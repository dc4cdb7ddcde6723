//! Finding messages in the whole history, and reading it out in bulk.
//!
//! Full text goes through SQLite's FTS5 with the trigram tokenizer: it matches any part of a
//! word in any script, so "世界" is found inside "你好世界", which a word tokenizer would
//! miss in text written without spaces. Trigrams need three characters; a shorter word is
//! matched by a plain scan instead, slower on a long history but never missing anything.

use jiff::Timestamp;
use rusqlite::types::Value;

use super::history::{History, MESSAGE_COLUMNS, count_to_sql, message_from_row, time_to_sql};
use super::{ConversationKey, StoreError, StoredMessage};

/// How hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Best match first (BM25) among the newest [`RANKED`] matches, newest first among
    /// equals.
    #[default]
    Rank,
    /// Newest first (in the order the history was written).
    Newest,
}

/// Matches ranked by [`Order::Rank`]: the most recent this many.
pub const RANKED: usize = 250;

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Words, all of which a message must contain, in any case; any part of a word matches.
    pub text: String,
    /// Only these conversations; all when empty.
    pub conversations: Vec<ConversationKey>,
    /// Only messages written here at or after this.
    pub since: Option<Timestamp>,
    pub order: Order,
    pub limit: usize,
}

/// A message found, and the conversation it is in.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub key: ConversationKey,
    pub message: StoredMessage,
}

/// The words of a query, as the search matches them.
pub fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// Whether `text` holds every one of `words` in any case, as the search matches them: for
/// messages that are not in the index (a group's, held in memory).
pub fn contains_words(text: &str, words: &[&str]) -> bool {
    let text = text.to_lowercase();
    words.iter().all(|w| text.contains(&w.to_lowercase()))
}

/// A word put in an FTS5 string, so that no character of it is read as query syntax.
fn fts_phrase(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// A word for `LIKE '%…%' ESCAPE '\'`.
fn like_pattern(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl History {
    /// Messages with every word of `search.text`; none for a query with no words.
    pub fn search(&self, search: &Search) -> Result<Vec<Hit>, StoreError> {
        let all = words(&search.text);
        if all.is_empty() || search.limit == 0 {
            return Ok(Vec::new());
        }
        let (long, short): (Vec<&str>, Vec<&str>) =
            all.into_iter().partition(|w| w.chars().count() >= 3);
        let mut args: Vec<Value> = Vec::new();
        let mut wheres = Vec::new();
        // Matches are walked newest first (the order rows were written, which the index
        // keeps), so a common word stops at the limit instead of sorting every match.
        let (from, newest_first) = if long.is_empty() {
            ("FROM messages m", "m.n DESC")
        } else {
            wheres.push("messages_fts MATCH ?".to_owned());
            let query: Vec<String> = long.iter().map(|w| fts_phrase(w)).collect();
            args.push(Value::Text(query.join(" ")));
            // Ordered by the index's own rowid, which it walks backwards without sorting.
            (
                "FROM messages_fts JOIN messages m ON m.n = messages_fts.rowid",
                "messages_fts.rowid DESC",
            )
        };
        for word in short {
            wheres.push("m.text LIKE ? ESCAPE '\\'".to_owned());
            args.push(Value::Text(like_pattern(word)));
        }
        if !search.conversations.is_empty() {
            let marks = vec!["?"; search.conversations.len()].join(", ");
            wheres.push(format!("m.conv IN ({marks})"));
            args.extend(
                search
                    .conversations
                    .iter()
                    .map(|k| Value::Text(k.as_str().to_owned())),
            );
        }
        if let Some(since) = search.since {
            wheres.push("m.at >= ?".to_owned());
            args.push(Value::Integer(time_to_sql(since)));
        }
        let wheres = wheres.join(" AND ");
        let columns = prefixed(MESSAGE_COLUMNS);
        let sql = if search.order == Order::Rank && !long.is_empty() {
            // Ranked among the newest matches only: ranking every match of a common word
            // in a long history takes a second; the best of the last few thousand do not.
            args.push(Value::Integer(count_to_sql(RANKED)));
            args.push(Value::Integer(count_to_sql(search.limit)));
            format!(
                "SELECT * FROM (SELECT m.conv, {columns}, messages_fts.rank AS r, m.n AS k {from} \
                 WHERE {wheres} ORDER BY {newest_first} LIMIT ?) ORDER BY r, k DESC LIMIT ?"
            )
        } else {
            args.push(Value::Integer(count_to_sql(search.limit)));
            format!(
                "SELECT m.conv, {columns} {from} WHERE {wheres} ORDER BY {newest_first} LIMIT ?"
            )
        };
        let mut stmt = self.conn.prepare(&sql).map_err(self.db_err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |row| {
                Ok((row.get::<_, String>(0)?, message_from_row(row, 1)))
            })
            .map_err(self.db_err())?;
        let mut hits = Vec::new();
        for row in rows {
            let (key, message) = row.map_err(self.db_err())?;
            if let Some(message) = message {
                hits.push(Hit {
                    key: ConversationKey::new(key),
                    message,
                });
            }
        }
        Ok(hits)
    }

    /// Every message of `conversations` (all when empty) written at or after `since`, by
    /// conversation and then in time order, handed one at a time to `each` so that memory
    /// stays flat however long the history. Stops at the first error `each` returns.
    pub fn export<E: From<StoreError>>(
        &self,
        conversations: &[ConversationKey],
        since: Option<Timestamp>,
        mut each: impl FnMut(&ConversationKey, StoredMessage) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut args: Vec<Value> = Vec::new();
        let mut sql = format!("SELECT conv, {MESSAGE_COLUMNS} FROM messages WHERE at >= ?");
        args.push(Value::Integer(since.map_or(i64::MIN, time_to_sql)));
        if !conversations.is_empty() {
            let marks = vec!["?"; conversations.len()].join(", ");
            sql.push_str(&format!(" AND conv IN ({marks})"));
            args.extend(
                conversations
                    .iter()
                    .map(|k| Value::Text(k.as_str().to_owned())),
            );
        }
        sql.push_str(" ORDER BY conv, at, n");
        let mut stmt = self.conn.prepare(&sql).map_err(self.db_err())?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .map_err(self.db_err())?;
        let mut key = ConversationKey::new("");
        while let Some(row) = rows.next().map_err(self.db_err())? {
            let conv: String = row.get(0).map_err(self.db_err())?;
            if key != *conv.as_str() {
                key = ConversationKey::new(conv);
            }
            if let Some(message) = message_from_row(row, 1) {
                each(&key, message)?;
            }
        }
        Ok(())
    }

    /// How many messages came in on `key` after `after` (all when `None`): unread counts,
    /// without reading the messages.
    pub fn count_received_after(
        &self,
        key: &ConversationKey,
        after: Option<Timestamp>,
    ) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM messages WHERE conv = ?1 AND at > ?2 AND dir = 'in'",
            )
            .and_then(|mut s| {
                s.query_row(
                    rusqlite::params![key.as_str(), after.map_or(i64::MIN, time_to_sql)],
                    |r| r.get(0),
                )
            })
            .map_err(self.db_err())?;
        Ok(count.max(0).cast_unsigned())
    }
}

/// `a, b` as `m.a, m.b`.
fn prefixed(columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
