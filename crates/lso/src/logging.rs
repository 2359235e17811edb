//! The log lines on stderr: text, or one JSON object a line.

use lso_transport::trace::Tracing;
use std::fmt;
use tracing::span::Record;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{FormatFields, JsonFields, Writer};
use tracing_subscriber::prelude::*;

/// A span's fields as one JSON object, where a field recorded later (a request's trace id and
/// status) is appended to the object as it is. tracing-subscriber's own JSON fields parse and
/// write again every field at each record, most of what the log lines cost a request.
pub struct AppendedJson;

impl<'writer> FormatFields<'writer> for AppendedJson {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        JsonFields::new().format_fields(writer, fields)
    }

    fn add_fields(&self, current: &'writer mut FormattedFields<Self>, fields: &Record<'_>) -> fmt::Result {
        let mut added = String::new();
        JsonFields::new().format_fields(Writer::new(&mut added), fields)?;
        if added.len() <= 2 {
            return Ok(()); // `{}`: nothing was recorded
        }
        match current.fields.strip_suffix('}') {
            // Later keys win when the object is read, as a field recorded again should.
            Some(open) if open.len() > 1 => current.fields = format!("{open},{}", &added[1..]),
            _ => current.fields = added,
        }
        Ok(())
    }
}

/// Log lines on stderr (filtered by `RUST_LOG`, else by `default`), and the spans `traces`
/// exports.
pub fn init(json: bool, default: &str, traces: Option<&Tracing>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = if json { lines.json().fmt_fields(AppendedJson).boxed() } else { lines.boxed() };
    tracing_subscriber::registry().with(lines.with_filter(filter)).with(traces.map(Tracing::layer)).init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_span_field_recorded_later_is_in_the_json_line_with_the_others() {
        let lines = Lines::default();
        let writer = lines.clone();
        let layer =
            tracing_subscriber::fmt::layer().json().fmt_fields(AppendedJson).with_writer(move || writer.clone());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            let span = tracing::info_span!(
                "request",
                method = "POST",
                trace_id = tracing::field::Empty,
                status = tracing::field::Empty,
                quiet = tracing::field::Empty,
            );
            span.record("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
            span.record("status", 201);
            span.record("status", 422);
            span.in_scope(|| tracing::info!(said = "it \"quoted\", {braced}", "a line"));
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let span = &line["span"];
        assert_eq!(span["method"], "POST");
        assert_eq!(span["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span["status"], 422, "the last record wins");
        assert!(span.get("quiet").is_none(), "a field never recorded is not written");
        assert_eq!(line["fields"]["said"], "it \"quoted\", {braced}");
    }
}
