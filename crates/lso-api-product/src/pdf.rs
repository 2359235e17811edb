//! A printable bill (MEF 141 `billDocument`: "URL pointing to PDF file containing printable
//! version of the Customer Bill"): the bill as lines of text on A4 pages, written as PDF 1.4
//! with the standard Helvetica font, so any reader shows it without embedded fonts.

use serde_json::Value;

/// Lines a page holds.
const LINES_PER_PAGE: usize = 56;

/// `text` as a PDF string literal: `(`, `)` and `\` escaped, anything outside printable ASCII
/// replaced (the standard fonts' encoding has no other character for sure).
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('(');
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '–' | '—' => out.push('-'),
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push(')');
    out
}

/// A PDF document of `lines`, `LINES_PER_PAGE` to an A4 page, titled `title`.
pub fn text_document(title: &str, lines: &[String]) -> Vec<u8> {
    let pages: Vec<&[String]> = if lines.is_empty() { vec![&[]] } else { lines.chunks(LINES_PER_PAGE).collect() };
    // Objects 1 catalog, 2 page tree, 3 font, 4 information; then a page and its content each.
    let first_page = 5;
    let kids: Vec<String> = (0..pages.len()).map(|n| format!("{} 0 R", first_page + 2 * n)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
        format!("<< /Title {} /Producer (lso) >>", literal(title)),
    ];
    for (n, page) in pages.iter().enumerate() {
        let mut content = String::from("BT /F1 10 Tf 14 TL 50 800 Td\n");
        for line in *page {
            content.push_str(&literal(line));
            content.push_str(" Tj T*\n");
        }
        content.push_str("ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            first_page + 2 * n + 1
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()));
    }
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (n, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", n + 1).as_bytes());
    }
    let xref = pdf.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        table.push_str(&format!("{offset:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.extend_from_slice(table.as_bytes());
    pdf
}

/// An amount (`{"unit", "value"}`) as text.
fn amount(money: &Value) -> String {
    format!("{:.2} {}", money["value"].as_f64().unwrap_or_default(), money["unit"].as_str().unwrap_or_default())
}

fn date(value: &Value) -> &str {
    value.as_str().and_then(|d| d.get(..10)).unwrap_or_default()
}

/// The printable lines of `bill` and its `items`.
pub fn bill_lines(bill: &Value, items: &[Value]) -> Vec<String> {
    let seller = bill["relatedContactInformation"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["role"] == "sellerContactInformation");
    let mut lines = vec![
        format!("Bill {}", bill["billNo"].as_str().unwrap_or_default()),
        String::new(),
        format!("Seller: {}", seller.and_then(|c| c["name"].as_str()).unwrap_or_default()),
        format!("Billing account: {}", bill["billingAccount"]["id"].as_str().unwrap_or_default()),
        format!(
            "Billing period: {} to {}",
            date(&bill["billingPeriod"]["startDateTime"]),
            date(&bill["billingPeriod"]["endDateTime"])
        ),
        format!("Bill date: {}", date(&bill["billDate"])),
        format!("Payment due: {}", date(&bill["paymentDueDate"])),
        String::new(),
        "Items".to_owned(),
    ];
    for item in items {
        lines.push(format!(
            "  {}: {} {} at {} = {}",
            item["description"].as_str().unwrap_or_default(),
            item["unitQuantity"],
            item["unit"].as_str().unwrap_or_default(),
            amount(&item["unitRate"]),
            amount(&item["taxExcludedAmount"]),
        ));
        lines.push(format!(
            "    product {}, {} to {}",
            item["product"]["id"].as_str().unwrap_or_default(),
            date(&item["periodCoverage"]["startDateTime"]),
            date(&item["periodCoverage"]["endDateTime"])
        ));
    }
    lines.push(String::new());
    if bill["discounts"]["value"].as_f64().is_some_and(|d| d > 0.0) {
        lines.push(format!("Agreed discounts taken off: {}", amount(&bill["discounts"])));
    }
    lines.push(format!("Total excluding tax: {}", amount(&bill["taxExcludedAmount"])));
    for tax in bill["taxItem"].as_array().into_iter().flatten() {
        lines.push(format!("Tax ({}%): {}", tax["taxRate"], amount(&tax["taxAmount"])));
    }
    lines.push(format!("Total due: {}", amount(&bill["amountDue"])));
    lines.push(format!("Remaining to pay: {}", amount(&bill["remainingAmount"])));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_is_where_the_cross_reference_table_says_and_text_is_escaped() {
        let lines: Vec<String> = (0..120).map(|n| format!("line {n} (with \\ and ü)")).collect();
        let pdf = text_document("a test", &lines);
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let start: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        let table = &text[start..];
        let offsets: Vec<usize> =
            table.lines().skip(3).take_while(|l| l.ends_with(" n ")).map(|l| l[..10].parse().unwrap()).collect();
        assert_eq!(offsets.len(), 4 + 2 * 3, "three pages of 56 lines at most");
        for (n, offset) in offsets.iter().enumerate() {
            assert!(text[*offset..].starts_with(&format!("{} 0 obj\n", n + 1)), "object {}", n + 1);
        }
        assert!(text.contains("(line 7 \\(with \\\\ and ?\\)) Tj"));
    }
}
