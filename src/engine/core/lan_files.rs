//! Files with IP Messenger peers (iptux, Feiq, IP Messenger): which offers exist and who may
//! fetch what. The bytes move over TCP port 2425 in the driver's file service; the core only
//! decides, and hears back through [`LanFileReport`]s. IP Messenger has no hash: a file is
//! taken when its size matches.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qqchat_ipmsg::FileEntry;
use qqchat_ipmsg::encoding_rs::Encoding;

use super::{EngineCore, Now};
use crate::engine::api::EngineEvent;
use crate::proto::PeerId;

/// How long an offer waits to be fetched before it is withdrawn.
pub const OFFER_LIFETIME: Duration = Duration::from_secs(600);

/// What the request line of a fetch is built with; the offset of a regular file is only
/// known once the service has looked for a `.part` to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub packet_no: u32,
    pub user: String,
    pub host: String,
    pub opts: u32,
    pub enc: &'static Encoding,
}

/// A file or directory to fetch from an IP Messenger peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub peer: PeerId,
    pub id: u64,
    /// The peer's TCP port 2425.
    pub addr: SocketAddr,
    /// The offer's packet number and the file's ID in it.
    pub packet_no: u64,
    pub file_id: u64,
    /// As the peer sent it: not yet a safe name.
    pub name: String,
    pub size: u64,
    pub dir: bool,
    /// Where it goes.
    pub into: PathBuf,
    pub header: RequestHeader,
}

/// Work for the file service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanFileJob {
    Fetch(Fetch),
    /// From now on `ip` may fetch `path` as file `file_id`.
    Serve {
        id: u64,
        ip: IpAddr,
        file_id: u64,
        path: PathBuf,
        enc: &'static Encoding,
    },
    /// The offer `id` is over: refuse it from now on.
    Unserve {
        id: u64,
    },
}

/// What the file service did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanFileReport {
    Fetched {
        peer: PeerId,
        id: u64,
        path: PathBuf,
    },
    FetchFailed {
        peer: PeerId,
        id: u64,
        reason: String,
    },
    /// The peer read all of offer `id`.
    Served { id: u64 },
}

/// A file offered to us.
struct Incoming {
    packet_no: u64,
    entry: FileEntry,
}

/// A file we offer.
struct Outgoing {
    peer: PeerId,
    /// Known once the offer has left.
    packet_no: Option<u32>,
    expires: Instant,
}

/// The offers in both directions.
#[derive(Default)]
pub(super) struct LanFiles {
    incoming: HashMap<(PeerId, u64), Incoming>,
    outgoing: HashMap<u64, Outgoing>,
    next_file_id: u64,
    jobs: Vec<LanFileJob>,
}

impl EngineCore {
    /// The file service's work of this step.
    pub(super) fn lan_file_jobs(&mut self) -> Vec<LanFileJob> {
        std::mem::take(&mut self.lan_files.jobs)
    }

    /// Offers `path` to an IP Messenger peer as `name`.
    pub(super) fn lan_send_file(
        &mut self,
        now: Now,
        to: PeerId,
        id: u64,
        path: &Path,
        name: &str,
        size: u64,
    ) {
        let (Some(lan), PeerId::Addr(addr)) = (&mut self.ipmsg, to) else {
            return self.lan_file_failed(to, id, true, "IP Messenger is off".into());
        };
        let files = &mut self.lan_files;
        // Distinct for this run's offers; the peer names it back in its requests.
        files.next_file_id += 1;
        let file_id = files.next_file_id;
        let mtime = u64::try_from(now.wall.as_second()).unwrap_or(0);
        // A file of a folder is offered under its own name: a path would be one more name
        // for the other client to make safe, and none of them rebuilds a tree from it.
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let entry = FileEntry::regular(file_id, name, size, mtime);
        let ip = addr.ip();
        lan.introduce(ip);
        if let Err(err) = lan.endpoint.send_files(now.mono, ip, "", vec![entry], id) {
            return self.lan_file_failed(to, id, true, err.to_string());
        }
        let enc = lan.endpoint.encoding_of(ip);
        files.outgoing.insert(
            id,
            Outgoing {
                peer: to,
                packet_no: None,
                expires: now.mono + OFFER_LIFETIME,
            },
        );
        files.jobs.push(LanFileJob::Serve {
            id,
            ip,
            file_id,
            path: path.to_owned(),
            enc,
        });
    }

    /// Fetches an offered file or directory into `dir`.
    pub(super) fn lan_accept_file(&mut self, from: PeerId, id: u64, dir: &Path) {
        let Some(offer) = self.lan_files.incoming.remove(&(from, id)) else {
            return self.lan_file_failed(from, id, false, "no such offer".into());
        };
        let (Some(lan), PeerId::Addr(addr)) = (&mut self.ipmsg, from) else {
            return self.lan_file_failed(from, id, false, "IP Messenger is off".into());
        };
        let (packet_no, opts, enc) = lan.endpoint.request_header(addr.ip());
        let config = lan.endpoint.config();
        let header = RequestHeader {
            packet_no,
            user: config.user.clone(),
            host: config.host.clone(),
            opts,
            enc,
        };
        self.lan_files.jobs.push(LanFileJob::Fetch(Fetch {
            peer: from,
            id,
            addr,
            packet_no: offer.packet_no,
            file_id: offer.entry.id,
            name: offer.entry.name.clone(),
            size: offer.entry.size,
            dir: offer.entry.is_dir(),
            into: dir.to_owned(),
            header,
        }));
    }

    /// Says no to an offered file; once nothing of its offer is left, the peer is told
    /// (`RELEASEFILES`) so it can let go of it.
    pub(super) fn lan_decline_file(&mut self, from: PeerId, id: u64) {
        let Some(offer) = self.lan_files.incoming.remove(&(from, id)) else {
            return;
        };
        let rest = self
            .lan_files
            .incoming
            .iter()
            .any(|((p, _), o)| *p == from && o.packet_no == offer.packet_no);
        if let (false, Some(lan), PeerId::Addr(addr)) = (rest, &mut self.ipmsg, from) {
            lan.endpoint.release(addr.ip(), offer.packet_no);
        }
    }

    /// The files of an offer that arrived: each regular file and directory is offered to
    /// the front end under an id of its own; a directory's name ends with `/`.
    pub(super) fn lan_offered(&mut self, from: PeerId, packet_no: u64, files: Vec<FileEntry>) {
        for entry in files {
            if !entry.is_regular() && !entry.is_dir() {
                continue;
            }
            let id = self.ids.next_id();
            let mut name = entry.name.trim_end_matches('/').to_owned();
            if entry.is_dir() {
                name.push('/');
            }
            if !self.files.takes_files() {
                continue;
            }
            self.ui.push(EngineEvent::FileOffered {
                from,
                id,
                name,
                size: entry.size,
                // Always asked: an IP Messenger peer proves no identity to trust.
                saving_to: None,
            });
            self.lan_files
                .incoming
                .insert((from, id), Incoming { packet_no, entry });
        }
    }

    /// Our offer `id` left as packet `packet_no`.
    pub(super) fn lan_offer_sent(&mut self, id: u64, packet_no: u32) {
        if let Some(o) = self.lan_files.outgoing.get_mut(&id) {
            o.packet_no = Some(packet_no);
        }
    }

    /// Whether message `id` is one of our offers (its receipt is no message's).
    pub(super) fn is_lan_offer(&self, id: u64) -> bool {
        self.lan_files.outgoing.contains_key(&id)
    }

    /// The peer at `ip` let go of our offer `packet_no`.
    pub(super) fn lan_released(&mut self, ip: IpAddr, packet_no: u64) {
        let ids: Vec<u64> = self
            .lan_files
            .outgoing
            .iter()
            .filter(|(_, o)| {
                matches!(o.peer, PeerId::Addr(a) if a.ip() == ip)
                    && o.packet_no.is_some_and(|n| u64::from(n) == packet_no)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.lan_offer_over(id, Some("declined".into()));
        }
    }

    /// The offer message was never acknowledged.
    pub(super) fn lan_offer_unheard(&mut self, id: u64) {
        self.lan_offer_over(id, Some("the offer was not acknowledged".into()));
    }

    /// Withdraws an offer: done (`None`) or failed with a reason.
    fn lan_offer_over(&mut self, id: u64, failed: Option<String>) {
        let Some(o) = self.lan_files.outgoing.remove(&id) else {
            return;
        };
        self.lan_files.jobs.push(LanFileJob::Unserve { id });
        match failed {
            Some(reason) => self.lan_file_failed(o.peer, id, true, reason),
            None => self.ui.push(EngineEvent::FileDone {
                peer: o.peer,
                id,
                outgoing: true,
                path: None,
            }),
        }
    }

    /// What the file service did.
    pub fn handle_lan_file_report(&mut self, _now: Now, report: LanFileReport) {
        match report {
            LanFileReport::Fetched { peer, id, path } => self.ui.push(EngineEvent::FileDone {
                peer,
                id,
                outgoing: false,
                path: Some(path),
            }),
            LanFileReport::FetchFailed { peer, id, reason } => {
                self.lan_file_failed(peer, id, false, reason);
            }
            LanFileReport::Served { id } => self.lan_offer_over(id, None),
        }
    }

    fn lan_file_failed(&mut self, peer: PeerId, id: u64, outgoing: bool, reason: String) {
        self.ui.push(EngineEvent::FileFailed {
            peer,
            id,
            outgoing,
            reason,
        });
    }

    pub(super) fn lan_files_timeout(&mut self, now: Now) {
        let expired: Vec<u64> = self
            .lan_files
            .outgoing
            .iter()
            .filter(|(_, o)| o.expires <= now.mono)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            let minutes = OFFER_LIFETIME.as_secs() / 60;
            self.lan_offer_over(id, Some(format!("not fetched within {minutes} minutes")));
        }
    }

    pub(super) fn lan_files_deadline(&self) -> Option<Instant> {
        self.lan_files.outgoing.values().map(|o| o.expires).min()
    }
}
