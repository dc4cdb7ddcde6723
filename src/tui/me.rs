//! Edits of `[me]` in the contacts file, found on reload: which apply at once (name, bell)
//! and which only a restart can (listen, require_keys).

use crate::contacts::Me;

/// What an edit of `[me]` changed: what applies at once, and what waits for a restart.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct MeChanges {
    pub(super) name: Option<String>,
    pub(super) bell: Option<bool>,
    /// `[me] mouse`, taken or given back at once.
    pub(super) mouse: Option<bool>,
    /// Settings that only a restart applies: the socket is bound, and the engine took
    /// `require_keys` when it started.
    restart: Vec<&'static str>,
}

impl MeChanges {
    pub(super) fn between(old: &Me, new: &Me) -> MeChanges {
        let mut restart = Vec::new();
        if new.listen != old.listen {
            restart.push("listen");
        }
        if new.require_keys != old.require_keys {
            restart.push("require_keys");
        }
        if new.stun != old.stun {
            restart.push("stun");
        }
        if new.relay != old.relay {
            restart.push("relay");
        }
        if new.strangers != old.strangers {
            restart.push("strangers");
        }
        MeChanges {
            name: (new.name != old.name).then(|| new.name.clone()),
            bell: (new.bell != old.bell).then_some(new.bell),
            mouse: (new.mouse != old.mouse).then_some(new.mouse),
            restart,
        }
    }

    /// `name is now bob, bell off; listen applies after a restart`, or `None` for no change.
    pub(super) fn said(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("name is now {name}"));
        }
        if let Some(bell) = self.bell {
            parts.push(format!("bell {}", if bell { "on" } else { "off" }));
        }
        if let Some(mouse) = self.mouse {
            parts.push(format!("mouse {}", if mouse { "on" } else { "off" }));
        }
        let mut said = parts.join(", ");
        if !self.restart.is_empty() {
            let verb = if self.restart.len() == 1 {
                "applies"
            } else {
                "apply"
            };
            let restart = format!("{} {verb} after a restart", self.restart.join(" and "));
            said = if said.is_empty() {
                restart
            } else {
                format!("{said}; {restart}")
            };
        }
        (!said.is_empty()).then_some(said)
    }
}

#[cfg(test)]
mod tests {
    use super::{Me, MeChanges};

    #[test]
    fn me_edits_apply_name_and_bell_and_say_what_needs_a_restart() {
        let old = Me {
            name: "me".into(),
            listen: "0.0.0.0:4000".parse().expect("addr"),
            bell: true,
            require_keys: false,
            keepalive: 25,
            stun: Vec::new(),
            relay: None,
            downloads: None,
            max_file_size: None,
            notify: crate::contacts::Notify::All,
            notify_preview: true,
            mouse: true,
            notify_command: None,
            on_message: None,
            strangers: crate::contacts::Strangers::Requests,
            dht: false,
            dht_bootstrap: None,
        };
        assert_eq!(MeChanges::between(&old, &old).said(), None);
        let new = Me {
            name: "bob".into(),
            bell: false,
            ..old.clone()
        };
        let changes = MeChanges::between(&old, &new);
        assert_eq!(changes.name.as_deref(), Some("bob"));
        assert_eq!(changes.bell, Some(false));
        assert_eq!(changes.said().as_deref(), Some("name is now bob, bell off"));
        let new = Me {
            mouse: false,
            ..old.clone()
        };
        assert_eq!(
            MeChanges::between(&old, &new).said().as_deref(),
            Some("mouse off")
        );
        let new = Me {
            listen: "0.0.0.0:5000".parse().expect("addr"),
            require_keys: true,
            keepalive: 25,
            ..old.clone()
        };
        assert_eq!(
            MeChanges::between(&old, &new).said().as_deref(),
            Some("listen and require_keys apply after a restart")
        );
    }
}
