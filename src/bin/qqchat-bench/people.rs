//! Two people for the file figures: a directory each (config, key, history) and a contacts
//! file naming the other at its exact address, keyed or not, so neither is a rate-limited
//! stranger to the other. Every command runs the real `qqchat` binary as that person.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::link::command_in;

pub struct Person {
    pub name: &'static str,
    pub dir: PathBuf,
    pub listen: SocketAddr,
}

impl Person {
    fn new(root: &Path, name: &'static str, listen: SocketAddr) -> Result<Person, String> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Person { name, dir, listen })
    }

    /// `qqchat --contacts ... --no-lan` as this person, in namespace `ns` when given.
    pub fn qqchat(&self, exe: &Path, ns: Option<&str>) -> Command {
        let mut command = command_in(ns, exe);
        command
            .current_dir(&self.dir)
            .env("XDG_CONFIG_HOME", &self.dir)
            .env("HOME", &self.dir)
            .env("QQCHAT_DATA_DIR", self.dir.join("data"))
            .arg("--contacts")
            .arg(self.dir.join("contacts.toml"))
            .arg("--no-lan");
        command
    }

    fn write_contacts(&self, other: Option<(&Person, Option<&str>)>) -> Result<(), String> {
        let mut text = format!(
            "[me]\nname = \"{}\"\nlisten = \"{}\"\nstun = []\n\n[lan]\ndiscover = false\nipmsg = false\n\n[contacts]\n",
            self.name, self.listen
        );
        match other {
            Some((o, Some(key))) => {
                text += &format!(
                    "{} = {{ addr = \"{}\", key = \"{key}\" }}\n",
                    o.name, o.listen
                );
            }
            Some((o, None)) => text += &format!("{} = \"{}\"\n", o.name, o.listen),
            None => {}
        }
        let path = self.dir.join("contacts.toml");
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// This person's public key, made on first use by `qqchat id`.
    fn key(&self, exe: &Path) -> Result<String, String> {
        let out = self
            .qqchat(exe, None)
            .args(["id", "-q"])
            .output()
            .map_err(|e| format!("qqchat id: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .split_once("key=")
            .map(|(_, k)| k.to_owned())
            .ok_or_else(|| {
                format!(
                    "qqchat id printed no key: {}{}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    }
}

/// Alice (who sends) and Bob (who receives), each the other's contact.
pub fn pair(
    exe: &Path,
    root: &Path,
    alice_at: SocketAddr,
    bob_at: SocketAddr,
    keyed: bool,
) -> Result<(Person, Person), String> {
    let alice = Person::new(root, "alice", alice_at)?;
    let bob = Person::new(root, "bob", bob_at)?;
    let (ka, kb) = if keyed {
        alice.write_contacts(None)?;
        bob.write_contacts(None)?;
        (Some(alice.key(exe)?), Some(bob.key(exe)?))
    } else {
        (None, None)
    };
    alice.write_contacts(Some((&bob, kb.as_deref())))?;
    bob.write_contacts(Some((&alice, ka.as_deref())))?;
    Ok((alice, bob))
}
