//! The TURN relay's own socket, with the real binary on loopback: a TURN server that still
//! holds an allocation for the address it sees answers 437, and qqchat moves the relay to a
//! new port and allocates again, a bounded number of times, without touching the chat port.
//! The server is `turn-server-proto` behind a socket, refusing authenticated allocations
//! from the ports it is told to, as coturn does after a run was killed.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use qqchat_testkit::{Person, STUN_OFF};
use stun_proto::agent::Transmit;
use stun_proto::types::TransportType;
use stun_proto::types::attribute::{ErrorCode, MessageIntegrity};
use stun_proto::types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageWriteVec,
};
use stun_proto::types::prelude::*;
use turn_client_proto::types::message::ALLOCATE;
use turn_server_proto::api::{TurnServerApi, TurnServerPollRet};
use turn_server_proto::server::TurnServer;

/// What the server hands out as the relayed address (nothing is relayed in these tests).
const RELAYED: &str = "127.0.0.1:50000";

/// A TURN server on loopback that answers 437 to the first `refused` client ports that send
/// an authenticated Allocate, and allocates for the others.
struct Turn {
    addr: SocketAddr,
    /// The client ports that sent an Allocate, in order, each once.
    ports: Arc<Mutex<Vec<u16>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Turn {
    fn start(refused: usize) -> Turn {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the TURN server");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a read timeout");
        let addr = socket.local_addr().expect("its address");
        let ports = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (ports, stop) = (Arc::clone(&ports), Arc::clone(&stop));
            thread::spawn(move || serve(&socket, refused, &ports, &stop))
        };
        Turn {
            addr,
            ports,
            stop,
            thread: Some(thread),
        }
    }

    fn ports(&self) -> Vec<u16> {
        self.ports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(socket: &UdpSocket, refused: usize, ports: &Mutex<Vec<u16>>, stop: &AtomicBool) {
    let local = socket.local_addr().expect("its address");
    let mut server = TurnServer::new(TransportType::Udp, local, "qqchat".into());
    server.add_user("alice".into(), "secret".into());
    let base = Instant::now();
    let at = || {
        let nanos = i64::try_from(base.elapsed().as_nanos()).unwrap_or(i64::MAX);
        stun_proto::Instant::from_nanos(nanos)
    };
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let bytes = &buf[..len];
        let allocate = Message::from_bytes(bytes)
            .ok()
            .filter(|m| m.method() == ALLOCATE);
        let index = allocate.as_ref().map(|_| {
            let mut ports = ports.lock().unwrap_or_else(PoisonError::into_inner);
            if !ports.contains(&from.port()) {
                ports.push(from.port());
            }
            ports.iter().position(|&p| p == from.port()).unwrap_or(0)
        });
        let signed = allocate
            .as_ref()
            .is_some_and(|m| m.attribute::<MessageIntegrity>().is_ok());
        if signed
            && index.is_some_and(|i| i < refused)
            && let Some(reply) = mismatch(bytes)
        {
            let _ = socket.send_to(&reply, from);
            continue;
        }
        if let Some(reply) =
            server.recv(Transmit::new(bytes, TransportType::Udp, from, local), at())
        {
            let out = reply.build();
            let _ = socket.send_to(&out.data, out.to);
        }
        if let TurnServerPollRet::AllocateSocket {
            transport,
            listen_addr,
            client_addr,
            allocation_transport,
            family,
        } = server.poll(at())
        {
            let relayed = RELAYED.parse().expect("an address");
            server.allocated_socket(
                transport,
                listen_addr,
                client_addr,
                allocation_transport,
                family,
                Ok(relayed),
                at(),
            );
        }
        while let Some(t) = server.poll_transmit(at()) {
            let _ = socket.send_to(&t.data, t.to);
        }
    }
}

/// A signed 437 Allocation Mismatch answering `request`.
fn mismatch(request: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_bytes(request).ok()?;
    let mut reply = Message::builder_error(&msg, MessageWriteVec::new());
    let code = ErrorCode::builder(ErrorCode::ALLOCATION_MISMATCH)
        .build()
        .ok()?;
    reply.add_attribute(&code).ok()?;
    let creds = LongTermKeyCredentials::new("alice".into(), "secret".into(), "qqchat".into());
    reply
        .add_message_integrity(&creds.into(), IntegrityAlgorithm::Sha1)
        .ok()?;
    Some(reply.finish())
}

/// Points `person`'s `[me] relay` at `server`, the password in a file.
fn use_relay(person: &Person, server: SocketAddr) {
    person.dir.write("turn.pw", "secret\n");
    let path = person.dir.path().join("contacts.toml");
    let text = std::fs::read_to_string(&path).expect("read the contacts file");
    let line = format!(
        "{STUN_OFF}\nrelay = {{ server = \"{server}\", username = \"alice\", \
         password_file = \"turn.pw\" }}"
    );
    person
        .dir
        .write("contacts.toml", &text.replacen(STUN_OFF, &line, 1));
}

#[test]
fn a_437_moves_the_relay_to_a_new_port_and_it_allocates_at_once() {
    let turn = Turn::start(1);
    let alice = Person::new("alice");
    use_relay(&alice, turn.addr);
    let listening = alice.listen();
    let said = listening
        .stderr
        .wait_for("relay", Duration::from_secs(10))
        .unwrap_or_else(|seen| panic!("nothing said of the relay: {seen:#?}"));
    assert!(
        said.contains(&format!("relayed address {RELAYED}")),
        "{said}"
    );
    let ports = turn.ports();
    assert_eq!(ports.len(), 2, "refused once, then a new port: {ports:?}");
    assert_ne!(ports[0], ports[1]);
    assert!(
        !ports.contains(&alice.port),
        "the chat port never talks to the relay server: {ports:?}"
    );
}

#[test]
fn a_437_from_every_new_port_is_said_after_a_few_with_its_fix() {
    let turn = Turn::start(usize::MAX);
    let alice = Person::new("alice");
    use_relay(&alice, turn.addr);
    let listening = alice.listen();
    let said = listening
        .stderr
        .wait_for("relay", Duration::from_secs(10))
        .unwrap_or_else(|seen| panic!("nothing said of the relay: {seen:#?}"));
    assert!(
        said.contains("437 allocation mismatch from 3 new relay ports in a row"),
        "{said}"
    );
    assert!(said.contains("expires within 10 minutes"), "{said}");
    let ports = turn.ports();
    assert_eq!(
        ports.len(),
        4,
        "the first port, then three new ones: {ports:?}"
    );
    let mut distinct = ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{ports:?}");
}
