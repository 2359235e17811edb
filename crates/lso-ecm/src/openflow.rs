//! A small OpenFlow 1.3 client: the flow and meter messages an element driver needs, over the
//! bridge's management socket. Every request ends with a barrier, so when a call returns the
//! switch has processed it, and any error it reported for it is returned.
//!
//! Flows are encoded from and decoded into [`Flow`], so what the switch reports can be compared
//! with what was asked.

use crate::{Action, Flow, PortCounters};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::Mutex;

const VERSION: u8 = 4;
const HELLO: u8 = 0;
const ERROR: u8 = 1;
const ECHO_REQUEST: u8 = 2;
const ECHO_REPLY: u8 = 3;
const FLOW_MOD: u8 = 14;
const MULTIPART_REQUEST: u8 = 18;
const MULTIPART_REPLY: u8 = 19;
const BARRIER_REQUEST: u8 = 20;
const BARRIER_REPLY: u8 = 21;
const METER_MOD: u8 = 29;

const MULTIPART_FLOW: u16 = 1;
const MULTIPART_PORT_STATS: u16 = 4;
const MULTIPART_METER_CONFIG: u16 = 10;

const ANY: u32 = 0xffff_ffff;
const ALL_TABLES: u8 = 0xff;
const OXM_BASIC: u16 = 0x8000;
const OXM_IN_PORT: u8 = 0;
const OXM_VLAN_VID: u8 = 6;
const VLAN_PRESENT: u16 = 0x1000;

const INSTRUCTION_APPLY_ACTIONS: u16 = 4;
const INSTRUCTION_METER: u16 = 6;
const ACTION_OUTPUT: u16 = 0;
const ACTION_PUSH_VLAN: u16 = 17;
const ACTION_POP_VLAN: u16 = 18;
const ACTION_SET_FIELD: u16 = 25;

const METER_KBPS: u16 = 1;
const METER_BURST: u16 = 4;
const METER_STATS: u16 = 8;
const BAND_DROP: u16 = 1;

/// What can go wrong talking OpenFlow.
#[derive(Debug, thiserror::Error)]
pub enum OpenFlowError {
    /// The connection failed.
    #[error("OpenFlow connection: {0}")]
    Io(#[from] std::io::Error),
    /// The switch sent something this client does not understand.
    #[error("OpenFlow protocol: {0}")]
    Protocol(String),
    /// The switch refused a request.
    #[error("the switch refused a request: error type {kind}, code {code}")]
    Refused { kind: u16, code: u16 },
}

/// A meter dropping what exceeds a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    /// Its identifier on the switch (1 and up).
    pub id: u32,
    /// The rate, in kbit/s.
    pub rate_kbps: u32,
    /// The burst, in kbit.
    pub burst_kbits: u32,
}

fn header(kind: u8, length: usize, xid: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(length);
    bytes.push(VERSION);
    bytes.push(kind);
    bytes.extend_from_slice(&(length as u16).to_be_bytes());
    bytes.extend_from_slice(&xid.to_be_bytes());
    bytes
}

fn message(kind: u8, xid: u32, body: &[u8]) -> Vec<u8> {
    let mut bytes = header(kind, 8 + body.len(), xid);
    bytes.extend_from_slice(body);
    bytes
}

fn pad_to_8(bytes: &mut Vec<u8>) {
    while !bytes.len().is_multiple_of(8) {
        bytes.push(0);
    }
}

fn oxm(field: u8, value: &[u8]) -> Vec<u8> {
    let mut bytes = (OXM_BASIC).to_be_bytes().to_vec();
    bytes.push(field << 1);
    bytes.push(value.len() as u8);
    bytes.extend_from_slice(value);
    bytes
}

/// An `ofp_match` with the given OXM fields, padded.
fn encode_match(fields: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = fields.concat();
    let mut bytes = 1u16.to_be_bytes().to_vec();
    bytes.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
    bytes.extend_from_slice(&body);
    pad_to_8(&mut bytes);
    bytes
}

fn encode_action(action: &Action) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16);
    let mut tlv = |kind: u16, body: &[u8]| {
        let length = (4 + body.len()).next_multiple_of(8);
        bytes.extend_from_slice(&kind.to_be_bytes());
        bytes.extend_from_slice(&(length as u16).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes.resize(length, 0);
    };
    match action {
        Action::Output(port) => {
            tlv(ACTION_OUTPUT, &[&port.to_be_bytes()[..], &[0xff, 0xff, 0, 0, 0, 0, 0, 0]].concat())
        }
        Action::PushVlan(ethertype) => tlv(ACTION_PUSH_VLAN, &ethertype.to_be_bytes()),
        Action::PopVlan => tlv(ACTION_POP_VLAN, &[]),
        Action::SetVlan(vlan) => tlv(ACTION_SET_FIELD, &oxm(OXM_VLAN_VID, &(vlan | VLAN_PRESENT).to_be_bytes())),
    }
    bytes
}

fn encode_instructions(flow: &Flow) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(meter) = flow.meter {
        bytes.extend_from_slice(&INSTRUCTION_METER.to_be_bytes());
        bytes.extend_from_slice(&8u16.to_be_bytes());
        bytes.extend_from_slice(&meter.to_be_bytes());
    }
    let actions: Vec<u8> = flow.actions.iter().flat_map(encode_action).collect();
    bytes.extend_from_slice(&INSTRUCTION_APPLY_ACTIONS.to_be_bytes());
    bytes.extend_from_slice(&((8 + actions.len()) as u16).to_be_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&actions);
    bytes
}

fn flow_match(flow: &Flow) -> Vec<u8> {
    let mut fields = vec![oxm(OXM_IN_PORT, &flow.in_port.to_be_bytes())];
    if let Some(vlan) = flow.vlan {
        fields.push(oxm(OXM_VLAN_VID, &(vlan | VLAN_PRESENT).to_be_bytes()));
    }
    encode_match(&fields)
}

/// The body of a FLOW_MOD: `command` 0 adds, 3 deletes every flow with the cookie.
fn flow_mod_body(command: u8, flow: &Flow) -> Vec<u8> {
    let mut body = Vec::with_capacity(96);
    body.extend_from_slice(&flow.cookie.to_be_bytes());
    let cookie_mask: u64 = if command == 0 { 0 } else { u64::MAX };
    body.extend_from_slice(&cookie_mask.to_be_bytes());
    body.push(if command == 0 { 0 } else { ALL_TABLES });
    body.push(command);
    body.extend_from_slice(&[0, 0, 0, 0]); // idle and hard timeouts
    body.extend_from_slice(&flow.priority.to_be_bytes());
    body.extend_from_slice(&ANY.to_be_bytes()); // no buffer
    body.extend_from_slice(&ANY.to_be_bytes()); // out port
    body.extend_from_slice(&ANY.to_be_bytes()); // out group
    body.extend_from_slice(&[0, 0, 0, 0]); // flags and padding
    if command == 0 {
        body.extend_from_slice(&flow_match(flow));
        body.extend_from_slice(&encode_instructions(flow));
    } else {
        body.extend_from_slice(&encode_match(&[]));
    }
    body
}

fn meter_mod_body(command: u16, meter: &Meter) -> Vec<u8> {
    let mut body = command.to_be_bytes().to_vec();
    body.extend_from_slice(&(METER_KBPS | METER_BURST | METER_STATS).to_be_bytes());
    body.extend_from_slice(&meter.id.to_be_bytes());
    if command != 2 {
        body.extend_from_slice(&BAND_DROP.to_be_bytes());
        body.extend_from_slice(&16u16.to_be_bytes());
        body.extend_from_slice(&meter.rate_kbps.to_be_bytes());
        body.extend_from_slice(&meter.burst_kbits.to_be_bytes());
        body.extend_from_slice(&[0; 4]);
    }
    body
}

/// Reads big-endian integers from a byte slice, failing instead of panicking.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], OpenFlowError> {
        if self.0.len() < count {
            return Err(OpenFlowError::Protocol(format!("{count} bytes wanted, {} left", self.0.len())));
        }
        let (taken, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(taken)
    }

    fn u16(&mut self) -> Result<u16, OpenFlowError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap_or_default()))
    }

    fn u32(&mut self) -> Result<u32, OpenFlowError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }

    fn u64(&mut self) -> Result<u64, OpenFlowError> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default()))
    }
}

fn decode_match(bytes: &[u8], flow: &mut Flow) -> Result<(), OpenFlowError> {
    let mut reader = Reader(bytes);
    while !reader.0.is_empty() {
        let class = reader.u16()?;
        let field = reader.take(1)?[0];
        let length = usize::from(reader.take(1)?[0]);
        let mut value = Reader(reader.take(length)?);
        match (class, field >> 1, field & 1) {
            (OXM_BASIC, OXM_IN_PORT, 0) => flow.in_port = value.u32()?,
            (OXM_BASIC, OXM_VLAN_VID, 0) => flow.vlan = Some(value.u16()? & 0x0fff),
            (class, field, _) => {
                return Err(OpenFlowError::Protocol(format!("unexpected match field {class:#x}/{field}")));
            }
        }
    }
    Ok(())
}

fn decode_actions(bytes: &[u8]) -> Result<Vec<Action>, OpenFlowError> {
    let mut reader = Reader(bytes);
    let mut actions = Vec::new();
    while !reader.0.is_empty() {
        let kind = reader.u16()?;
        let length = usize::from(reader.u16()?);
        let mut body = Reader(reader.take(length.saturating_sub(4))?);
        actions.push(match kind {
            ACTION_OUTPUT => Action::Output(body.u32()?),
            ACTION_PUSH_VLAN => Action::PushVlan(body.u16()?),
            ACTION_POP_VLAN => Action::PopVlan,
            ACTION_SET_FIELD => {
                let mut set = Flow { cookie: 0, priority: 0, in_port: 0, vlan: None, meter: None, actions: vec![] };
                let oxm_length = 4 + usize::from(body.0.get(3).copied().unwrap_or(0));
                decode_match(body.take(oxm_length)?, &mut set)?;
                Action::SetVlan(set.vlan.ok_or_else(|| OpenFlowError::Protocol("a set-field of no VLAN".into()))?)
            }
            other => return Err(OpenFlowError::Protocol(format!("unexpected action type {other}"))),
        });
    }
    Ok(actions)
}

/// The flows of a flow-stats reply body.
fn decode_flow_stats(bytes: &[u8]) -> Result<Vec<Flow>, OpenFlowError> {
    let mut reader = Reader(bytes);
    let mut flows = Vec::new();
    while !reader.0.is_empty() {
        let length = usize::from(reader.u16()?);
        let mut entry = Reader(reader.take(length.saturating_sub(2))?);
        entry.take(10)?; // table, padding, duration
        let priority = entry.u16()?;
        entry.take(10)?; // timeouts, flags, padding
        let cookie = entry.u64()?;
        entry.take(16)?; // packet and byte counts
        let mut flow = Flow { cookie, priority, in_port: 0, vlan: None, meter: None, actions: Vec::new() };
        entry.u16()?; // match type
        let match_length = usize::from(entry.u16()?);
        decode_match(entry.take(match_length.saturating_sub(4))?, &mut flow)?;
        entry.take((match_length.next_multiple_of(8)) - match_length)?;
        while !entry.0.is_empty() {
            let kind = entry.u16()?;
            let length = usize::from(entry.u16()?);
            let mut body = Reader(entry.take(length.saturating_sub(4))?);
            match kind {
                INSTRUCTION_METER => flow.meter = Some(body.u32()?),
                INSTRUCTION_APPLY_ACTIONS => {
                    body.take(4)?;
                    flow.actions = decode_actions(body.0)?;
                }
                other => return Err(OpenFlowError::Protocol(format!("unexpected instruction type {other}"))),
            }
        }
        flows.push(flow);
    }
    Ok(flows)
}

/// The meters of a meter-config reply body.
fn decode_meter_config(bytes: &[u8]) -> Result<Vec<Meter>, OpenFlowError> {
    let mut reader = Reader(bytes);
    let mut meters = Vec::new();
    while !reader.0.is_empty() {
        let length = usize::from(reader.u16()?);
        let mut entry = Reader(reader.take(length.saturating_sub(2))?);
        entry.u16()?; // flags
        let id = entry.u32()?;
        entry.take(4)?; // band type and length
        let rate_kbps = entry.u32()?;
        let burst_kbits = entry.u32()?;
        meters.push(Meter { id, rate_kbps, burst_kbits });
    }
    Ok(meters)
}

/// The counters of each port in a port statistics reply, by OpenFlow port number.
fn decode_port_stats(bytes: &[u8]) -> Result<Vec<(u32, PortCounters)>, OpenFlowError> {
    let mut reader = Reader(bytes);
    let mut ports = Vec::new();
    while !reader.0.is_empty() {
        let mut entry = Reader(reader.take(112)?);
        let port = entry.u32()?;
        entry.take(4)?;
        let (rx_packets, tx_packets, rx_bytes, tx_bytes) = (entry.u64()?, entry.u64()?, entry.u64()?, entry.u64()?);
        let (rx_dropped, tx_dropped) = (entry.u64()?, entry.u64()?);
        ports.push((port, PortCounters { rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped }));
    }
    Ok(ports)
}

/// A connection to one bridge.
pub struct OpenFlowClient {
    connection: Mutex<Connection>,
}

struct Connection {
    stream: UnixStream,
    next_xid: u32,
}

/// What came back for a request, up to its barrier.
struct Replies {
    multipart: Vec<u8>,
}

impl OpenFlowClient {
    /// Connects to the bridge's management socket at `path` and agrees on OpenFlow 1.3.
    pub async fn connect(path: &str) -> Result<Self, OpenFlowError> {
        let mut stream = UnixStream::connect(path).await?;
        stream.write_all(&header(HELLO, 8, 0)).await?;
        let (kind, _, body) = read_message(&mut stream).await?;
        if kind != HELLO {
            return Err(OpenFlowError::Protocol(format!("the switch answered the hello with message type {kind}")));
        }
        drop(body);
        Ok(OpenFlowClient { connection: Mutex::new(Connection { stream, next_xid: 1 }) })
    }

    /// Adds `flows` (a flow with the same match and priority is replaced).
    pub async fn add_flows(&self, flows: &[Flow]) -> Result<(), OpenFlowError> {
        let requests = flows.iter().map(|f| (FLOW_MOD, flow_mod_body(0, f))).collect();
        self.exchange(requests).await.map(drop)
    }

    /// Deletes every flow carrying `cookie`.
    pub async fn delete_flows(&self, cookie: u64) -> Result<(), OpenFlowError> {
        let flow = Flow { cookie, priority: 0, in_port: 0, vlan: None, meter: None, actions: Vec::new() };
        self.exchange(vec![(FLOW_MOD, flow_mod_body(3, &flow))]).await.map(drop)
    }

    /// The flows carrying `cookie`, or every flow when `cookie` is `None`.
    pub async fn flows(&self, cookie: Option<u64>) -> Result<Vec<Flow>, OpenFlowError> {
        let mut body = MULTIPART_FLOW.to_be_bytes().to_vec();
        body.extend_from_slice(&[0; 6]);
        body.extend_from_slice(&[ALL_TABLES, 0, 0, 0]);
        body.extend_from_slice(&ANY.to_be_bytes());
        body.extend_from_slice(&ANY.to_be_bytes());
        body.extend_from_slice(&[0; 4]);
        body.extend_from_slice(&cookie.unwrap_or(0).to_be_bytes());
        body.extend_from_slice(&(if cookie.is_some() { u64::MAX } else { 0 }).to_be_bytes());
        body.extend_from_slice(&encode_match(&[]));
        let replies = self.exchange(vec![(MULTIPART_REQUEST, body)]).await?;
        decode_flow_stats(&replies.multipart)
    }

    /// Adds `meter`, or changes it if a meter with its id exists.
    pub async fn put_meter(&self, meter: &Meter, exists: bool) -> Result<(), OpenFlowError> {
        let command = if exists { 1 } else { 0 };
        self.exchange(vec![(METER_MOD, meter_mod_body(command, meter))]).await.map(drop)
    }

    /// Deletes meter `id` (and the flows that use it).
    pub async fn delete_meter(&self, id: u32) -> Result<(), OpenFlowError> {
        let meter = Meter { id, rate_kbps: 0, burst_kbits: 0 };
        self.exchange(vec![(METER_MOD, meter_mod_body(2, &meter))]).await.map(drop)
    }

    /// Every meter of the bridge.
    pub async fn meters(&self) -> Result<Vec<Meter>, OpenFlowError> {
        let mut body = MULTIPART_METER_CONFIG.to_be_bytes().to_vec();
        body.extend_from_slice(&[0; 6]);
        body.extend_from_slice(&ANY.to_be_bytes());
        body.extend_from_slice(&[0; 4]);
        let replies = self.exchange(vec![(MULTIPART_REQUEST, body)]).await?;
        decode_meter_config(&replies.multipart)
    }

    /// The counters of every port of the bridge, by OpenFlow port number.
    pub async fn port_stats(&self) -> Result<Vec<(u32, PortCounters)>, OpenFlowError> {
        let mut body = MULTIPART_PORT_STATS.to_be_bytes().to_vec();
        body.extend_from_slice(&[0; 6]);
        body.extend_from_slice(&ANY.to_be_bytes());
        body.extend_from_slice(&[0; 4]);
        let replies = self.exchange(vec![(MULTIPART_REQUEST, body)]).await?;
        decode_port_stats(&replies.multipart)
    }

    /// Sends `requests` and a barrier; returns what came back before the barrier's reply, or
    /// the first error the switch reported for one of the requests.
    async fn exchange(&self, requests: Vec<(u8, Vec<u8>)>) -> Result<Replies, OpenFlowError> {
        let mut connection = self.connection.lock().await;
        let first = connection.next_xid;
        let mut bytes = Vec::new();
        for (kind, body) in &requests {
            let xid = connection.next_xid;
            connection.next_xid = connection.next_xid.wrapping_add(1);
            bytes.extend_from_slice(&message(*kind, xid, body));
        }
        let barrier = connection.next_xid;
        connection.next_xid = connection.next_xid.wrapping_add(1);
        bytes.extend_from_slice(&message(BARRIER_REQUEST, barrier, &[]));
        connection.stream.write_all(&bytes).await?;
        let mut replies = Replies { multipart: Vec::new() };
        let mut refused = None;
        loop {
            let (kind, xid, body) = read_message(&mut connection.stream).await?;
            match kind {
                ECHO_REQUEST => connection.stream.write_all(&message(ECHO_REPLY, xid, &body)).await?,
                ERROR if (first..barrier).contains(&xid) && refused.is_none() => {
                    let mut reader = Reader(&body);
                    refused = Some(OpenFlowError::Refused { kind: reader.u16()?, code: reader.u16()? });
                }
                MULTIPART_REPLY if (first..barrier).contains(&xid) => {
                    replies.multipart.extend_from_slice(body.get(8..).unwrap_or_default());
                }
                BARRIER_REPLY if xid == barrier => break,
                _ => {}
            }
        }
        refused.map_or(Ok(replies), Err)
    }
}

/// One message: its type, transaction id and body.
async fn read_message(stream: &mut UnixStream) -> Result<(u8, u32, Vec<u8>), OpenFlowError> {
    let mut head = [0u8; 8];
    stream.read_exact(&mut head).await?;
    let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if length < 8 {
        return Err(OpenFlowError::Protocol(format!("a message of {length} bytes")));
    }
    let mut body = vec![0u8; length - 8];
    stream.read_exact(&mut body).await?;
    Ok((head[1], u32::from_be_bytes([head[4], head[5], head[6], head[7]]), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_entry(flow: &Flow) -> Vec<u8> {
        let mut entry = vec![0u8; 10];
        entry.extend_from_slice(&flow.priority.to_be_bytes());
        entry.extend_from_slice(&[0; 10]);
        entry.extend_from_slice(&flow.cookie.to_be_bytes());
        entry.extend_from_slice(&[0; 16]);
        entry.extend_from_slice(&flow_match(flow));
        entry.extend_from_slice(&encode_instructions(flow));
        let length = (entry.len() + 2) as u16;
        [length.to_be_bytes().to_vec(), entry].concat()
    }

    #[test]
    fn a_flow_encoded_as_the_switch_reports_it_decodes_to_itself() {
        let flows = [
            Flow {
                cookie: 0xfeed_beef,
                priority: 200,
                in_port: 3,
                vlan: Some(100),
                meter: Some(7),
                actions: vec![Action::PushVlan(0x88a8), Action::SetVlan(2), Action::Output(1), Action::PopVlan],
            },
            Flow { cookie: 1, priority: 100, in_port: 1, vlan: None, meter: None, actions: vec![Action::Output(2)] },
        ];
        let body: Vec<u8> = flows.iter().flat_map(stats_entry).collect();
        assert_eq!(decode_flow_stats(&body).unwrap(), flows);
    }

    #[test]
    fn messages_have_the_lengths_openflow_requires() {
        let flow = Flow { cookie: 1, priority: 1, in_port: 1, vlan: Some(5), meter: None, actions: vec![] };
        let add = flow_mod_body(0, &flow);
        // 40 fixed bytes, a padded match of two fields, an empty apply-actions instruction.
        assert_eq!(add.len(), 40 + 24 + 8);
        assert_eq!(encode_action(&Action::SetVlan(5)).len(), 16);
        assert_eq!(encode_action(&Action::Output(5)).len(), 16);
        assert_eq!(meter_mod_body(0, &Meter { id: 1, rate_kbps: 10, burst_kbits: 5 }).len(), 8 + 16);
        let meters = decode_meter_config(
            &[&[0, 24, 0, 13, 0, 0, 0, 9, 0, 1, 0, 16][..], &[0, 0, 0, 50, 0, 0, 0, 25, 0, 0, 0, 0]].concat(),
        );
        assert_eq!(meters.unwrap(), [Meter { id: 9, rate_kbps: 50, burst_kbits: 25 }]);
    }

    #[test]
    fn truncated_replies_are_errors_not_panics() {
        let flow = Flow { cookie: 1, priority: 1, in_port: 1, vlan: None, meter: None, actions: vec![Action::PopVlan] };
        let entry = stats_entry(&flow);
        for cut in 1..entry.len() {
            assert!(decode_flow_stats(&entry[..cut]).is_err(), "cut at {cut}");
        }
    }
}
