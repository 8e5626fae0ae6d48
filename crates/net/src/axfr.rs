//! The live zone from an authoritative server: AXFR over TCP, TSIG-signed
//! and verified (the snapshot source and the trait are jardin-compiler's
//! `dns::live`).
//!
//! The transport is plain blocking TCP (two-byte length prefix, RFC 1035
//! §4.2.2); messages, TSIG signing and verification are hickory-proto's.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType, TSigVerifier};

use crate::tsig::TsigKey;
use jardin_compiler::dns::fqdn;
use jardin_compiler::dns::live::LiveSource;
use jardin_compiler::dns::plan::LiveZone;
use jardin_compiler::dns::zonefile::from_record;
use jardin_core::code;
use jardin_core::diag::Diagnostic;

/// An authoritative server, read by AXFR.
pub struct Server {
    pub(crate) addr: String,
    pub(crate) key: Option<TsigKey>,
    pub(crate) timeout: Duration,
}

impl Server {
    pub fn new(addr: &str, key: Option<TsigKey>) -> Self {
        Server {
            addr: addr.to_string(),
            key,
            timeout: Duration::from_secs(10),
        }
    }
}

impl LiveSource for Server {
    fn read(&self, apex: &str) -> Result<LiveZone, Diagnostic> {
        let name = zone_name(apex)?;
        let mut query = Message::query();
        query.metadata.recursion_desired = false;
        let mut q = Query::query(name, RecordType::AXFR);
        q.set_query_class(DNSClass::IN);
        query.add_query(q);
        let mut conn = Conn::open(&self.addr, self.timeout)?;
        let mut verifier = sign(&mut query, self.key.as_ref())?;
        conn.send(&query)?;
        let mut records = Vec::new();
        let mut soas = 0;
        while soas < 2 {
            let bytes = conn.receive()?;
            let msg = check_response(
                &bytes,
                &mut verifier,
                self.key.as_ref(),
                &format!("AXFR of {apex}"),
                &self.addr,
            )?;
            if msg.answers.is_empty() {
                return Err(Diagnostic::error(
                    code::DNS_SERVER_ERROR,
                    format!("AXFR of {apex} from {} ended early", self.addr),
                )
                .with_help("check that the server is authoritative for the zone"));
            }
            for r in &msg.answers {
                if r.record_type() == RecordType::SOA {
                    soas += 1;
                    if soas == 2 {
                        break;
                    }
                }
                records.push(from_record(r));
            }
        }
        records.sort();
        records.dedup();
        Ok(LiveZone {
            apex: fqdn(apex),
            records,
        })
    }

    fn describe(&self) -> String {
        format!("server {}", self.addr)
    }
}

pub(crate) fn zone_name(apex: &str) -> Result<Name, Diagnostic> {
    Name::from_ascii(fqdn(apex)).map_err(|e| {
        Diagnostic::error(
            code::DNS_SERVER_ERROR,
            format!("{apex} is not a DNS name: {e}"),
        )
        .with_help("zone names are DNS names")
    })
}

/// Signs a request when there is a key; the verifier checks the replies.
pub(crate) fn sign(
    msg: &mut Message,
    key: Option<&TsigKey>,
) -> Result<Option<TSigVerifier>, Diagnostic> {
    let Some(key) = key else { return Ok(None) };
    let signer = key.signer()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    msg.finalize(&signer, now).map_err(|e| {
        Diagnostic::error(
            code::TSIG_KEY_UNUSABLE,
            format!("cannot sign with TSIG key {key}: {e}"),
        )
    })
}

/// Decodes a reply, checks its TSIG and its response code.
pub(crate) fn check_response(
    bytes: &[u8],
    verifier: &mut Option<TSigVerifier>,
    key: Option<&TsigKey>,
    what: &str,
    addr: &str,
) -> Result<Message, Diagnostic> {
    let msg = Message::from_vec(bytes).map_err(|e| {
        Diagnostic::error(
            code::DNS_SERVER_ERROR,
            format!("{what}: {addr} sent an invalid message: {e}"),
        )
        .with_help("is this a DNS server?")
    })?;
    let rcode = msg.metadata.response_code;
    if rcode == ResponseCode::NotAuth
        || (key.is_some() && msg.signature().is_none() && rcode != ResponseCode::NoError)
    {
        let key_text = key
            .map(|k| k.to_string())
            .unwrap_or_else(|| "no key".into());
        return Err(Diagnostic::error(
            code::TSIG_KEY_REFUSED,
            format!("{what}: {addr} refused the request ({rcode}) with TSIG key {key_text}"),
        )
        .with_help("check the key name, algorithm and secret against the server's configuration, and that the key may transfer and update this zone"));
    }
    if rcode != ResponseCode::NoError {
        return Err(Diagnostic::error(
            code::DNS_SERVER_ERROR,
            format!("{what}: {addr} answered {rcode}"),
        )
        .with_help("check that the server is authoritative for the zone and allows this client"));
    }
    if let Some(v) = verifier.as_mut() {
        v.verify(bytes).map_err(|e| {
            Diagnostic::error(
                code::TSIG_KEY_REFUSED,
                format!("{what}: the reply from {addr} failed TSIG verification: {e}"),
            )
            .with_help(
                "check the TSIG secret and the clocks of both machines (TSIG allows 5 minutes)",
            )
        })?;
    }
    Ok(msg)
}

/// One TCP connection to a DNS server.
pub(crate) struct Conn {
    stream: TcpStream,
    addr: String,
}

impl Conn {
    pub(crate) fn open(addr: &str, timeout: Duration) -> Result<Self, Diagnostic> {
        let sock: SocketAddr = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                Diagnostic::error(
                    code::DNS_SERVER_ERROR,
                    format!("{addr} is not a server address"),
                )
                .with_help("write host:port, e.g. 127.0.0.1:53")
            })?;
        let stream = TcpStream::connect_timeout(&sock, timeout).map_err(|e| {
            Diagnostic::error(
                code::DNS_SERVER_ERROR,
                format!("cannot connect to {addr}: {e}"),
            )
            .with_help("check that the DNS server runs and accepts TCP on this address")
        })?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            addr: addr.to_string(),
        })
    }

    pub(crate) fn send(&mut self, msg: &Message) -> Result<(), Diagnostic> {
        let bytes = msg.to_vec().map_err(|e| {
            Diagnostic::error(
                code::DNS_SERVER_ERROR,
                format!("cannot encode a DNS message: {e}"),
            )
        })?;
        let len = u16::try_from(bytes.len()).map_err(|_| {
            Diagnostic::error(code::DNS_SERVER_ERROR, "a DNS message is over 64 KiB")
                .with_help("split the change into several zones or plans")
        })?;
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&bytes);
        self.stream.write_all(&framed).map_err(|e| {
            Diagnostic::error(
                code::DNS_SERVER_ERROR,
                format!("cannot send to {}: {e}", self.addr),
            )
            .with_help("is the server up?")
        })
    }

    pub(crate) fn receive(&mut self) -> Result<Vec<u8>, Diagnostic> {
        let io = |e: std::io::Error| {
            Diagnostic::error(
                code::DNS_SERVER_ERROR,
                format!("no answer from {}: {e}", self.addr),
            )
            .with_help("the server closed the connection or timed out; check its log")
        };
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len).map_err(io)?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.stream.read_exact(&mut buf).map_err(io)?;
        Ok(buf)
    }
}
