//! A small OpenFlow 1.3 client: the flow and meter messages an element driver needs, over the
//! bridge's management socket. Every request ends with a barrier, so when a call returns the
//! switch has processed it, and any error it reported for it is returned.
//!
//! Flows are encoded from and decoded into [`Flow`], so what the switch reports can be compared
//! with what was asked.

use crate::{Action, Flow, Learn, PortCounters};
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
/// Open vSwitch's registers (NXM class 1), matched and set as OXM fields.
const NXM_REGISTERS: u16 = 0x0001;
const OXM_IN_PORT: u8 = 0;
const OXM_VLAN_VID: u8 = 6;
const VLAN_PRESENT: u16 = 0x1000;

const INSTRUCTION_APPLY_ACTIONS: u16 = 4;
const INSTRUCTION_METER: u16 = 6;
const ACTION_OUTPUT: u16 = 0;
const ACTION_PUSH_VLAN: u16 = 17;
const ACTION_POP_VLAN: u16 = 18;
const ACTION_SET_FIELD: u16 = 25;
const ACTION_EXPERIMENTER: u16 = 0xffff;
/// Nicira's experimenter id, under which Open vSwitch's own actions are.
const NICIRA: u32 = 0x0000_2320;
const NX_REG_LOAD: u16 = 7;
const NX_RESUBMIT_TABLE: u16 = 14;
const NX_LEARN: u16 = 16;
/// OpenFlow 1.0's number for "the port the frame came in on", which resubmit takes.
const NX_IN_PORT: u16 = 0xfff8;

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
    oxm_of(OXM_BASIC, field, value)
}

fn oxm_of(class: u16, field: u8, value: &[u8]) -> Vec<u8> {
    let mut bytes = class.to_be_bytes().to_vec();
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
        Action::SetRegister(register, value) => {
            tlv(ACTION_SET_FIELD, &oxm_of(NXM_REGISTERS, *register, &value.to_be_bytes()))
        }
        Action::Resubmit(table) => {
            let body =
                [&NICIRA.to_be_bytes()[..], &NX_RESUBMIT_TABLE.to_be_bytes(), &NX_IN_PORT.to_be_bytes(), &[*table]];
            tlv(ACTION_EXPERIMENTER, &body.concat())
        }
        Action::Learn(learn) => tlv(ACTION_EXPERIMENTER, &learn_body(learn)),
    }
    bytes
}

/// An NXM field header (the 32 bits naming a field in a learn specification).
const fn nxm(class: u16, field: u8, length: u8) -> u32 {
    ((class as u32) << 16) | ((field as u32) << 9) | length as u32
}

/// The specifications of every learn action: match the service's key (registers 0 and 1) and
/// the destination address against the frame's source address, and load the port the frame
/// came in on into register 2. Each is a header (source is a field, destination a match or a
/// load, the bit count), then the source and destination fields with their bit offsets.
fn learn_specifications() -> Vec<u8> {
    const MATCH: u16 = 0;
    const LOAD: u16 = 1 << 11;
    let specifications: [(u16, u16, u32, u32); 4] = [
        (MATCH, 32, nxm(NXM_REGISTERS, 0, 4), nxm(NXM_REGISTERS, 0, 4)),
        (MATCH, 32, nxm(NXM_REGISTERS, 1, 4), nxm(NXM_REGISTERS, 1, 4)),
        (MATCH, 48, nxm(0, 2, 6), nxm(0, 1, 6)),
        (LOAD, 16, nxm(0, 0, 2), nxm(NXM_REGISTERS, 2, 4)),
    ];
    let mut bytes = Vec::new();
    for (kind, bits, source, destination) in specifications {
        bytes.extend_from_slice(&(kind | bits).to_be_bytes());
        bytes.extend_from_slice(&source.to_be_bytes());
        bytes.extend_from_slice(&0u16.to_be_bytes());
        bytes.extend_from_slice(&destination.to_be_bytes());
        bytes.extend_from_slice(&0u16.to_be_bytes());
    }
    bytes
}

/// The body of a learn action after its type and length.
fn learn_body(learn: &Learn) -> Vec<u8> {
    let mut body = NICIRA.to_be_bytes().to_vec();
    body.extend_from_slice(&NX_LEARN.to_be_bytes());
    body.extend_from_slice(&learn.idle_timeout.to_be_bytes());
    body.extend_from_slice(&0u16.to_be_bytes()); // hard timeout
    body.extend_from_slice(&learn.priority.to_be_bytes());
    body.extend_from_slice(&learn.cookie.to_be_bytes());
    body.extend_from_slice(&0u16.to_be_bytes()); // flags
    body.extend_from_slice(&[learn.table, 0]);
    body.extend_from_slice(&[0; 4]); // FIN timeouts
    body.extend_from_slice(&learn_specifications());
    body
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
    let mut fields = Vec::new();
    if let Some(port) = flow.in_port {
        fields.push(oxm(OXM_IN_PORT, &port.to_be_bytes()));
    }
    if let Some(vlan) = flow.vlan {
        fields.push(oxm(OXM_VLAN_VID, &(vlan | VLAN_PRESENT).to_be_bytes()));
    }
    for (register, value) in &flow.registers {
        fields.push(oxm_of(NXM_REGISTERS, *register, &value.to_be_bytes()));
    }
    encode_match(&fields)
}

/// The body of a FLOW_MOD: `command` 0 adds, 3 deletes every flow with the cookie.
fn flow_mod_body(command: u8, flow: &Flow) -> Vec<u8> {
    let mut body = Vec::with_capacity(96);
    body.extend_from_slice(&flow.cookie.to_be_bytes());
    let cookie_mask: u64 = if command == 0 { 0 } else { u64::MAX };
    body.extend_from_slice(&cookie_mask.to_be_bytes());
    body.push(if command == 0 { flow.table } else { ALL_TABLES });
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
            (OXM_BASIC, OXM_IN_PORT, 0) => flow.in_port = Some(value.u32()?),
            (OXM_BASIC, OXM_VLAN_VID, 0) => flow.vlan = Some(value.u16()? & 0x0fff),
            (NXM_REGISTERS, register, 0) => flow.registers.push((register, value.u32()?)),
            (class, field, _) => {
                return Err(OpenFlowError::Protocol(format!("unexpected match field {class:#x}/{field}")));
            }
        }
    }
    flow.registers.sort_unstable();
    Ok(())
}

/// A flow matching nothing and doing nothing, in table 0.
fn empty_flow(cookie: u64) -> Flow {
    Flow { cookie, table: 0, priority: 0, in_port: None, vlan: None, registers: vec![], meter: None, actions: vec![] }
}

/// An Open vSwitch action (after its type and length).
fn decode_nicira(body: &mut Reader<'_>) -> Result<Action, OpenFlowError> {
    let (experimenter, subtype) = (body.u32()?, body.u16()?);
    match (experimenter, subtype) {
        (NICIRA, NX_RESUBMIT_TABLE) => {
            body.u16()?; // in port
            Ok(Action::Resubmit(body.take(1)?[0]))
        }
        (NICIRA, NX_REG_LOAD) => {
            let (offset_and_bits, destination, value) = (body.u16()?, body.u32()?, body.u64()?);
            match (destination >> 16, offset_and_bits) {
                (class, 31) if class == u32::from(NXM_REGISTERS) => {
                    Ok(Action::SetRegister(((destination >> 9) & 0x7f) as u8, value as u32))
                }
                _ => Err(OpenFlowError::Protocol(format!("a register load into {destination:#x}/{offset_and_bits}"))),
            }
        }
        (NICIRA, NX_LEARN) => {
            let (idle_timeout, _hard, priority, cookie) = (body.u16()?, body.u16()?, body.u16()?, body.u64()?);
            let (_flags, table) = (body.u16()?, body.take(2)?[0]);
            body.take(4)?; // FIN timeouts
            let specifications = learn_specifications();
            let given = body.take(specifications.len())?;
            if given != specifications || body.0.iter().any(|b| *b != 0) {
                return Err(OpenFlowError::Protocol("a learn action learning something else".into()));
            }
            Ok(Action::Learn(Learn { table, priority, idle_timeout, cookie }))
        }
        _ => Err(OpenFlowError::Protocol(format!("unexpected experimenter action {experimenter:#x}/{subtype}"))),
    }
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
                let mut set = empty_flow(0);
                let oxm_length = 4 + usize::from(body.0.get(3).copied().unwrap_or(0));
                decode_match(body.take(oxm_length)?, &mut set)?;
                match (set.vlan, set.registers.as_slice()) {
                    (Some(vlan), []) => Action::SetVlan(vlan),
                    (None, [(register, value)]) => Action::SetRegister(*register, *value),
                    _ => return Err(OpenFlowError::Protocol("a set-field of something else".into())),
                }
            }
            ACTION_EXPERIMENTER => decode_nicira(&mut body)?,
            other => return Err(OpenFlowError::Protocol(format!("unexpected action type {other}"))),
        });
    }
    Ok(actions)
}

/// The flows of a flow-stats reply body. Learned flows (in [`flows::LEARNED_TABLE`]) are the
/// switch's own state, not configuration: they are left out.
fn decode_flow_stats(bytes: &[u8]) -> Result<Vec<Flow>, OpenFlowError> {
    let mut reader = Reader(bytes);
    let mut flows = Vec::new();
    while !reader.0.is_empty() {
        let length = usize::from(reader.u16()?);
        let mut entry = Reader(reader.take(length.saturating_sub(2))?);
        let table = entry.take(1)?[0];
        if table == crate::flows::LEARNED_TABLE {
            continue;
        }
        entry.take(9)?; // padding, duration
        let priority = entry.u16()?;
        entry.take(10)?; // timeouts, flags, padding
        let cookie = entry.u64()?;
        entry.take(16)?; // packet and byte counts
        let mut flow = Flow { table, priority, ..empty_flow(cookie) };
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
        self.exchange(vec![(FLOW_MOD, flow_mod_body(3, &empty_flow(cookie)))]).await.map(drop)
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
        let mut entry = vec![flow.table, 0, 0, 0, 0, 0, 0, 0, 0, 0];
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
                priority: 200,
                in_port: Some(3),
                vlan: Some(100),
                meter: Some(7),
                actions: vec![Action::PushVlan(0x88a8), Action::SetVlan(2), Action::Output(1), Action::PopVlan],
                ..empty_flow(0xfeed_beef)
            },
            Flow { priority: 100, in_port: Some(1), actions: vec![Action::Output(2)], ..empty_flow(1) },
            Flow {
                priority: 100,
                in_port: Some(1),
                actions: vec![
                    Action::SetRegister(0, 0xdead_beef),
                    Action::Learn(Learn { table: 1, priority: 100, idle_timeout: 300, cookie: 5 }),
                    Action::Resubmit(1),
                    Action::Resubmit(2),
                ],
                ..empty_flow(5)
            },
            Flow {
                table: 2,
                priority: 100,
                registers: vec![(0, 1), (2, 7)],
                actions: vec![Action::Output(7)],
                ..empty_flow(5)
            },
        ];
        let body: Vec<u8> = flows.iter().flat_map(stats_entry).collect();
        assert_eq!(decode_flow_stats(&body).unwrap(), flows);
        let learned = Flow { table: crate::flows::LEARNED_TABLE, ..empty_flow(5) };
        assert_eq!(decode_flow_stats(&stats_entry(&learned)).unwrap(), [], "learned flows are left out");
    }

    #[test]
    fn messages_have_the_lengths_openflow_requires() {
        let flow = Flow { priority: 1, in_port: Some(1), vlan: Some(5), ..empty_flow(1) };
        let add = flow_mod_body(0, &flow);
        // 40 fixed bytes, a padded match of two fields, an empty apply-actions instruction.
        assert_eq!(add.len(), 40 + 24 + 8);
        assert_eq!(encode_action(&Action::SetVlan(5)).len(), 16);
        assert_eq!(encode_action(&Action::Output(5)).len(), 16);
        assert_eq!(encode_action(&Action::SetRegister(1, 5)).len(), 16);
        assert_eq!(encode_action(&Action::Resubmit(2)).len(), 16);
        // 32 fixed bytes and four specifications of 14 bytes (a multiple of 8: no padding).
        let learn = Learn { table: 1, priority: 1, idle_timeout: 1, cookie: 1 };
        assert_eq!(encode_action(&Action::Learn(learn)).len(), 88);
        assert_eq!(meter_mod_body(0, &Meter { id: 1, rate_kbps: 10, burst_kbits: 5 }).len(), 8 + 16);
        let meters = decode_meter_config(
            &[&[0, 24, 0, 13, 0, 0, 0, 9, 0, 1, 0, 16][..], &[0, 0, 0, 50, 0, 0, 0, 25, 0, 0, 0, 0]].concat(),
        );
        assert_eq!(meters.unwrap(), [Meter { id: 9, rate_kbps: 50, burst_kbits: 25 }]);
    }

    #[test]
    fn truncated_replies_are_errors_not_panics() {
        let flow = Flow { priority: 1, in_port: Some(1), actions: vec![Action::PopVlan], ..empty_flow(1) };
        let entry = stats_entry(&flow);
        for cut in 1..entry.len() {
            assert!(decode_flow_stats(&entry[..cut]).is_err(), "cut at {cut}");
        }
    }
}
