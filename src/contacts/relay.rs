//! `[me] relay = { server = "host:port", username = "...", password = "..." }`: the TURN
//! server (RFC 8656) that relays for this user when no direct path works.
//!
//! Checked for form only, like `[me] stun`: the name is resolved and a `password_file` or
//! `password_env` read only when qqchat starts, so reading the file never waits on the
//! resolver and a secret kept out of the file stays out of memory until it is needed.

use std::path::PathBuf;

use toml::Spanned;
use toml::de::DeValue;

use super::ContactsError;
use super::address::check_server;
use super::parse::{Doc, in_file_order};

const WHAT: &str = "[me] relay";
const EXAMPLE: &str =
    "relay = { server = \"turn.example.org:3478\", username = \"alice\", password = \"...\" }";
/// Keys allowed in the relay table.
const RELAY_KEYS: &[&str] = &[
    "server",
    "username",
    "password",
    "password_file",
    "password_env",
];

/// A TURN server and the long-term credential this user has on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// `host:port`, as written; resolved when qqchat starts.
    pub server: String,
    pub username: String,
    pub password: Secret,
}

/// Where the relay password is kept.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// In the contacts file itself.
    Inline(String),
    /// In a file of its own (first line), relative paths from the contacts file's folder.
    File(PathBuf),
    /// In an environment variable.
    Env(String),
}

/// Never prints the password itself, so a debug log of the contacts cannot leak it.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Inline(..)"),
            Secret::File(p) => write!(f, "File({p:?})"),
            Secret::Env(v) => write!(f, "Env({v:?})"),
        }
    }
}

/// Why the password could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "[me] relay: cannot read password_file {path:?}: {source}; create it with the password \
         on its first line, or write password = \"...\" instead"
    )]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "[me] relay: the environment variable {var} (password_env) is not set; run \
         `export {var}=...` before qqchat, or write password = \"...\" instead"
    )]
    Env { var: String },
}

impl Secret {
    /// The password: read from its file or variable now.
    pub fn read(&self) -> Result<String, SecretError> {
        match self {
            Secret::Inline(p) => Ok(p.clone()),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|text| text.lines().next().unwrap_or("").trim().to_owned())
                .map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                }),
            Secret::Env(var) => {
                std::env::var(var).map_err(|_| SecretError::Env { var: var.clone() })
            }
        }
    }
}

impl Doc<'_> {
    /// The relay table: a server, a username and exactly one of the password keys.
    pub(super) fn relay(&self, value: &Spanned<DeValue<'_>>) -> Result<Relay, ContactsError> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.wrong_type(value, WHAT, "a table in braces", EXAMPLE.to_owned()));
        };
        let (mut server, mut username, mut password) = (None, None, None);
        for (key, entry) in in_file_order(table) {
            let name = key.get_ref().as_ref();
            if !RELAY_KEYS.contains(&name) {
                return Err(self.unknown(
                    key,
                    "in [me] relay",
                    RELAY_KEYS,
                    format!("write it as {EXAMPLE}"),
                ));
            }
            let DeValue::String(text) = entry.get_ref() else {
                return Err(self.wrong_type(
                    entry,
                    &format!("{WHAT} {name}"),
                    "text in double quotes",
                    format!("{name} = \"...\""),
                ));
            };
            let text = text.trim().to_owned();
            if text.is_empty() {
                return Err(self.wrong_type(
                    entry,
                    &format!("{WHAT} {name}"),
                    "some text",
                    EXAMPLE.to_owned(),
                ));
            }
            match name {
                "server" => {
                    check_server(&text, WHAT, "turn.example.org", |host| {
                        format!("server = \"{host}:3478\"")
                    })
                    .map_err(|p| self.err(entry.span(), p))?;
                    server = Some(text);
                }
                "username" => username = Some(text),
                _ => {
                    if password.is_some() {
                        return Err(self.wrong_type(
                            entry,
                            WHAT,
                            "one of password, password_file or password_env",
                            EXAMPLE.to_owned(),
                        ));
                    }
                    password = Some(match name {
                        "password" => Secret::Inline(text),
                        "password_file" => Secret::File(self.beside(&text)),
                        _ => Secret::Env(text),
                    });
                }
            }
        }
        let missing = |what: &str| {
            self.wrong_type(
                value,
                WHAT,
                &format!("a table with {what}"),
                EXAMPLE.to_owned(),
            )
        };
        Ok(Relay {
            server: server.ok_or_else(|| missing("server = \"host:port\""))?,
            username: username.ok_or_else(|| missing("a username"))?,
            password: password.ok_or_else(|| {
                missing("a password (or password_file = \"path\", or password_env = \"VAR\")")
            })?,
        })
    }

    /// A path as written, relative ones from the contacts file's folder.
    fn beside(&self, path: &str) -> PathBuf {
        let path = PathBuf::from(path);
        match self.path.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::ContactBook;
    use super::Secret;

    fn parse(me: &str) -> Result<ContactBook, String> {
        ContactBook::parse(
            &format!("[me]\nname = \"a\"\n{me}\n"),
            Path::new("/home/a/c.toml"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_means_no_relay_and_each_password_form_parses() {
        assert!(parse("").expect("valid").me.relay.is_none());
        let line =
            |p: &str| format!("relay = {{ server = \"192.0.2.7:3478\", username = \"u\", {p} }}");
        let relay = |p: &str| parse(&line(p)).expect("valid").me.relay.expect("relay");
        let r = relay("password = \"pw\"");
        assert_eq!(
            (r.server.as_str(), r.username.as_str()),
            ("192.0.2.7:3478", "u")
        );
        assert_eq!(r.password, Secret::Inline("pw".into()));
        assert_eq!(
            relay("password_file = \"turn.pw\"").password,
            Secret::File("/home/a/turn.pw".into())
        );
        assert_eq!(
            relay("password_env = \"TURN_PW\"").password,
            Secret::Env("TURN_PW".into())
        );
        assert!(
            !format!("{r:?}").contains("pw\""),
            "the password never shows in debug"
        );
    }

    #[test]
    fn mistakes_name_the_line_and_what_to_write() {
        for (line, wanted) in [
            ("relay = \"turn.x.org:3478\"", "expected a table in braces"),
            (
                "relay = { server = \"turn.x.org\", username = \"u\", password = \"p\" }",
                "has no port; write it as server = \"turn.x.org:3478\"",
            ),
            (
                "relay = { server = \"turn.x.org:3478\", password = \"p\" }",
                "expected a table with a username",
            ),
            (
                "relay = { server = \"turn.x.org:3478\", username = \"u\" }",
                "password_env = \"VAR\"",
            ),
            (
                "relay = { server = \"t:3478\", username = \"u\", password = \"p\", password_env = \"V\" }",
                "one of password, password_file or password_env",
            ),
            (
                "relay = { server = \"t:3478\", user = \"u\", password = \"p\" }",
                "unknown key \"user\" in [me] relay",
            ),
            (
                "relay = { server = \"t:3478\", username = 5, password = \"p\" }",
                "[me] relay username: expected text in double quotes",
            ),
        ] {
            let err = parse(line).expect_err(line);
            assert!(err.contains("c.toml:3:"), "{err}");
            assert!(err.contains(wanted), "{line}: {err}");
        }
    }

    #[test]
    fn a_secret_outside_the_file_is_read_when_asked() {
        let var = "QQCHAT_TEST_RELAY_PW_UNSET";
        let err = Secret::Env(var.into()).read().expect_err("unset");
        assert!(
            err.to_string()
                .contains("export QQCHAT_TEST_RELAY_PW_UNSET="),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("qqchat-relay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("pw");
        std::fs::write(&file, "s3cret\n").expect("write");
        assert_eq!(Secret::File(file).read().expect("read"), "s3cret");
        let err = Secret::File(dir.join("absent")).read().expect_err("absent");
        assert!(
            err.to_string().contains("cannot read password_file"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
