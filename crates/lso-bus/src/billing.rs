//! Customer Bill Management (MEF 141). A billing run bills one period (a calendar month) for
//! every billing account: each product's recurring charge from its specification's price rule
//! for its term, prorated by the days it was active in the period; the installation charge of
//! products activated in it; and the order charges (cancellation, expedite) the Buyer accepted
//! in it. A run is idempotent: an account billed for the period is not billed again. Payments
//! recorded by the Seller's operators settle bills.

use crate::doc::{push, set};
use crate::hubs::HubApi;
use crate::pricing::prices;
use crate::tracked::Tracked;
use crate::{Bus, BusError};
use lso_model::DateTime;
use lso_model::{Tenant, Violation};
use lso_store::Selection;
use lso_store::{Condition, Filter, IndexEntry, ListQuery, Record, WriteOp, sortable_time};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The store kind of bills.
pub(crate) const BILL: &str = "customerBill";
/// The store kind of bill items.
pub(crate) const BILL_ITEM: &str = "customerBillItem";
/// Products and charges are read this many at a time.
const PAGE: u64 = 2000;
/// Bills are committed this many at a time.
const BATCH: usize = 100;

/// How the Seller bills.
#[derive(Debug, Clone)]
pub struct BillingPolicy {
    /// The tax added to every item, in percent.
    pub tax_rate: f64,
    /// Days from the bill's date to its payment due date.
    pub payment_days: i64,
}

impl Default for BillingPolicy {
    fn default() -> Self {
        BillingPolicy { tax_rate: 0.0, payment_days: 30 }
    }
}

/// What a billing run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingReport {
    /// Products read.
    pub products: usize,
    /// Bills created.
    pub bills: usize,
    /// Items on them.
    pub items: usize,
    /// Accounts already billed for the period.
    pub already_billed: usize,
}

/// A charge to put on an account's bill.
struct Line {
    kind: &'static str,
    description: String,
    product: String,
    product_name: String,
    order_item: Value,
    coverage: (i64, i64),
    unit: &'static str,
    quantity: f64,
    rate: f64,
    amount: f64,
    /// What an agreed price took off the listed one.
    discount: f64,
    currency: String,
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn money(currency: &str, value: f64) -> Value {
    json!({"unit": currency, "value": round(value)})
}

fn time(value: &Value) -> Option<i64> {
    DateTime::parse(value.as_str()?).ok().map(|d| d.millis())
}

/// When a product was active: from its activation to its termination (if any).
fn active_span(product: &Value) -> Option<(i64, Option<i64>)> {
    let changes = product["statusChange"].as_array()?;
    let activated = changes.iter().find(|c| c["status"] == "active").and_then(|c| time(&c["changeDate"]))?;
    let ended = changes.iter().find(|c| c["status"] == "terminated").and_then(|c| time(&c["changeDate"]));
    Some((activated, ended))
}

fn bill_index(bill: &Value) -> Vec<IndexEntry> {
    let mut index = Vec::new();
    for name in ["category", "state"] {
        index.extend(bill[name].as_str().map(|v| IndexEntry::new(name, v)));
    }
    index.extend(bill["billingAccount"]["id"].as_str().map(|v| IndexEntry::new("billingAccount.id", v)));
    for (bound, name) in
        [("startDateTime", "billingPeriod.startDateTime"), ("endDateTime", "billingPeriod.endDateTime")]
    {
        index.extend(time(&bill["billingPeriod"][bound]).map(|t| IndexEntry::new(name, sortable_time(t))));
    }
    index
}

impl Bus {
    /// Bills the period `[start, end)` for every billing account not yet billed for it.
    pub async fn billing_run(&self, start: i64, end: i64) -> Result<BillingReport, BusError> {
        let mut report = BillingReport::default();
        let mut lines: BTreeMap<(String, String), Vec<Line>> = BTreeMap::new();
        self.product_lines(start, end, &mut lines, &mut report).await?;
        self.charge_lines(start, end, &mut lines).await?;
        let mut ops = Vec::new();
        let mut pending = 0;
        for ((tenant, account), account_lines) in lines {
            let tenant = Tenant::from_key(&tenant).ok_or_else(|| BusError::Corrupt(format!("tenant {tenant}")))?;
            if self.billed(&tenant, &account, start).await? {
                report.already_billed += 1;
                continue;
            }
            report.bills += 1;
            report.items += account_lines.len();
            ops.extend(self.bill(&tenant, &account, (start, end), account_lines));
            pending += 1;
            if pending == BATCH {
                self.commit(std::mem::take(&mut ops)).await?;
                pending = 0;
            }
        }
        if !ops.is_empty() {
            self.commit(ops).await?;
        }
        Ok(report)
    }

    /// The page at `offset` of every Buyer's records of `kind`, with their documents.
    async fn every(&self, kind: &str, offset: u64) -> Result<Vec<(Record, Value)>, BusError> {
        let all = Selection { tenant: None, filters: Vec::new(), offset, limit: PAGE };
        let page = self.store.list(ListQuery::of(kind, all)).await?;
        let read = |record: Record| {
            let doc = serde_json::from_str(&record.doc)
                .map_err(|e| BusError::Corrupt(format!("{kind} {}: {e}", record.id)))?;
            Ok((record, doc))
        };
        page.records.into_iter().map(read).collect()
    }

    /// The recurring and installation charges of every product active in the period.
    async fn product_lines(
        &self,
        start: i64,
        end: i64,
        lines: &mut BTreeMap<(String, String), Vec<Line>>,
        report: &mut BillingReport,
    ) -> Result<(), BusError> {
        let length = (end - start) as f64;
        for offset in (0..).step_by(PAGE as usize) {
            let page = self.every(crate::inventory::PRODUCT, offset).await?;
            for (record, product) in &page {
                report.products += 1;
                let (Some(account), Some((activated, ended))) =
                    (product["billingAccount"]["id"].as_str(), active_span(product))
                else {
                    continue;
                };
                let term = product["productTerm"][0].clone();
                let months = serde_json::from_value(term).map(|t| crate::validate::term_months(&t)).unwrap_or(12);
                let key = (record.tenant.clone(), account.to_owned());
                let versions = self.versions(&record.tenant, product, activated).await?;
                for (index, (since, configuration, order_item)) in versions.iter().enumerate() {
                    let until = versions.get(index + 1).map_or(ended.unwrap_or(end), |next| next.0);
                    let (from, to) = ((*since).max(start), until.min(ended.unwrap_or(end)).min(end));
                    let Some(spec) = configuration["@type"].as_str().and_then(|t| self.spec(t)) else {
                        continue;
                    };
                    let buyer = Tenant::from_key(&record.tenant).map(|t| t.buyer).unwrap_or_default();
                    let agreed = prices(&spec, configuration, months, self.agreed_discount(&buyer, &spec));
                    for (price, listed) in agreed.iter().zip(prices(&spec, configuration, months, 0.0)) {
                        let value = |price: &Value| price["price"]["dutyFreeAmount"]["value"].as_f64().unwrap_or(0.0);
                        let amount = value(price);
                        let recurring = price["priceType"] == "recurring";
                        let (quantity, coverage) = match recurring {
                            true if from < to => ((to - from) as f64 / length, (from, to)),
                            false if index == 0 && (start..end).contains(&activated) => (1.0, (activated, activated)),
                            _ => continue,
                        };
                        lines.entry(key.clone()).or_default().push(Line {
                            kind: if recurring { "recurring" } else { "nonRecurring" },
                            description: format!(
                                "{} of {} ({months} months)",
                                price["name"].as_str().unwrap_or_default(),
                                spec.name
                            ),
                            product: record.id.clone(),
                            product_name: spec.name.clone(),
                            order_item: order_item.clone(),
                            coverage,
                            unit: if recurring { "month" } else { "each" },
                            quantity,
                            rate: amount,
                            amount: amount * quantity,
                            discount: (value(&listed) - amount) * quantity,
                            currency: spec.pricing.currency.clone(),
                        });
                    }
                }
            }
            if (page.len() as u64) < PAGE {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The configurations a product had, each from when it had it, with the order item that
    /// gave it: the one it was added with, then each completed modification (a change
    /// mid-period is billed at each configuration for its share of the period).
    async fn versions(
        &self,
        tenant: &str,
        product: &Value,
        activated: i64,
    ) -> Result<Vec<(i64, Value, Value)>, BusError> {
        let refs = product["productOrderItem"].as_array().cloned().unwrap_or_default();
        let reference =
            |r: &Value| json!({"productOrderId": r["productOrderId"], "productOrderItemId": r["productOrderItemId"]});
        let current =
            (activated, product["productConfiguration"].clone(), refs.first().map(reference).unwrap_or_default());
        if refs.len() < 2 {
            return Ok(vec![current]);
        }
        let mut versions = Vec::new();
        for r in &refs {
            let Ok(order) = self.order(Some(tenant), r["productOrderId"].as_str().unwrap_or_default()).await else {
                continue;
            };
            let items = order["productOrderItem"].as_array().cloned().unwrap_or_default();
            let Some(item) = items.iter().find(|i| i["id"] == r["productOrderItemId"]) else { continue };
            let since = match item["action"].as_str() {
                Some("add") => activated,
                Some("modify") if item["state"] == "completed" => time(&item["completionDate"]).unwrap_or(activated),
                _ => continue,
            };
            versions.push((since, item["product"]["productConfiguration"].clone(), reference(r)));
        }
        versions.sort_by_key(|v| v.0);
        Ok(if versions.is_empty() { vec![current] } else { versions })
    }

    /// The order charges the Buyer accepted in the period, on the account of the order item
    /// (or the order's first item) they charge for.
    async fn charge_lines(
        &self,
        start: i64,
        end: i64,
        lines: &mut BTreeMap<(String, String), Vec<Line>>,
    ) -> Result<(), BusError> {
        for offset in (0..).step_by(PAGE as usize) {
            let page = self.every(crate::charges::CHARGE, offset).await?;
            for (record, charge) in &page {
                let Some(created) = time(&charge["creationDate"]).filter(|t| (start..end).contains(t)) else {
                    continue;
                };
                let order_id = charge["productOrderItem"]["productOrderId"]
                    .as_str()
                    .or(charge["productOrder"]["productOrderId"].as_str())
                    .unwrap_or_default();
                let Ok(order) = self.order(Some(&record.tenant), order_id).await else { continue };
                let item_id = charge["productOrderItem"]["productOrderItemId"].as_str();
                let items = order["productOrderItem"].as_array().cloned().unwrap_or_default();
                let Some(item) = items.iter().find(|i| item_id.is_none_or(|id| i["id"] == id)) else { continue };
                let Some(account) = item["billingAccount"]["id"].as_str() else { continue };
                for charged in
                    charge["chargeItem"].as_array().into_iter().flatten().filter(|c| c["state"] == "acceptedByBuyer")
                {
                    let price = &charged["price"]["dutyFreeAmount"];
                    let amount = price["value"].as_f64().unwrap_or(0.0);
                    lines.entry((record.tenant.clone(), account.to_owned())).or_default().push(Line {
                        kind: "nonRecurring",
                        description: format!(
                            "{} charge on product order {order_id}",
                            charged["priceCategory"].as_str().unwrap_or("order")
                        ),
                        product: item["product"]["id"].as_str().unwrap_or_default().to_owned(),
                        product_name: "order charge".into(),
                        order_item: json!({"productOrderId": order_id, "productOrderItemId": item["id"]}),
                        coverage: (created, created),
                        unit: "each",
                        quantity: 1.0,
                        rate: amount,
                        amount,
                        discount: 0.0,
                        currency: price["unit"].as_str().unwrap_or("USD").to_owned(),
                    });
                }
            }
            if (page.len() as u64) < PAGE {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Whether `account` of `tenant` has its bill for the period starting at `start`.
    async fn billed(&self, tenant: &Tenant, account: &str, start: i64) -> Result<bool, BusError> {
        let filters = vec![
            Filter { name: "billingAccount.id".into(), condition: Condition::Eq(account.to_owned()) },
            Filter { name: "billingPeriod.startDateTime".into(), condition: Condition::Eq(sortable_time(start)) },
        ];
        let page = self
            .store
            .list(ListQuery { kind: BILL.into(), tenant: Some(tenant.key()), filters, offset: 0, limit: 1 })
            .await?;
        Ok(page.total.at_least() > 0)
    }

    /// The writes of one account's bill and its items, and its announcement (R13).
    fn bill(&self, tenant: &Tenant, account: &str, (start, end): (i64, i64), lines: Vec<Line>) -> Vec<WriteOp> {
        let id = self.ids.next_id();
        let base = HubApi::Billing.base(tenant.irp);
        let rate = self.config.billing.tax_rate;
        let currency = lines.first().map_or("USD".to_owned(), |l| l.currency.clone());
        let mut ops = Vec::with_capacity(lines.len() + 3);
        let mut refs = Vec::with_capacity(lines.len());
        let (mut total, mut discounts) = (0.0, 0.0);
        for line in lines {
            let item_id = self.ids.next_id();
            total += round(line.amount);
            discounts += round(line.discount);
            let item = json!({
                "id": item_id, "href": format!("{base}/customerBillItem/{item_id}"), "appliedFee": [],
                "appliedTax": [{"category": "country", "description": "tax", "rate": rate, "amount": money(&line.currency, line.amount * rate / 100.0)}],
                "customerBillItemType": line.kind, "description": line.description,
                "periodCoverage": {"startDateTime": DateTime::from_millis(line.coverage.0).as_str(), "endDateTime": DateTime::from_millis(line.coverage.1).as_str()},
                "product": {"id": line.product}, "productName": line.product_name, "productOrderItem": line.order_item, "state": "generated",
                "taxExcludedAmount": money(&line.currency, line.amount), "unit": line.unit, "unitQuantity": (line.quantity * 10_000.0).round() / 10_000.0,
                "unitRate": money(&line.currency, line.rate),
            });
            refs.push(json!({"id": item_id, "href": item["href"]}));
            ops.push(WriteOp::Insert {
                record: Record {
                    kind: BILL_ITEM.into(),
                    id: item_id,
                    tenant: tenant.key(),
                    version: 1,
                    doc: item.to_string(),
                },
                index: Vec::new(),
            });
        }
        let tax = total * rate / 100.0;
        let zero = money(&currency, 0.0);
        let now = self.clock.now_millis();
        let mut contact = self.config.seller_contact.clone();
        set(&mut contact, "role", "sellerContactInformation");
        let period = |t: i64| DateTime::from_millis(t).as_str().to_owned();
        let bill = json!({
            "id": id, "href": format!("{base}/customerBill/{id}"), "billNo": format!("{}/{id}", period(start).get(..7).unwrap_or_default()),
            "billingAccount": {"id": account}, "financialAccount": {"id": account}, "billCycle": "monthly", "runType": "onCycle", "category": "normal",
            "billDate": period(now), "lastUpdate": period(now), "paymentDueDate": period(now + self.config.billing.payment_days * 86_400_000),
            "billingPeriod": {"startDateTime": period(start), "endDateTime": period(end)}, "state": "generated",
            "billDocument": {"url": format!("{base}/customerBill/{id}/document.pdf")}, "customerBillItem": refs, "appliedPayment": [],
            "taxExcludedAmount": money(&currency, total), "taxIncludedAmount": money(&currency, total + tax),
            "amountDue": money(&currency, total + tax), "remainingAmount": money(&currency, total + tax),
            "credits": zero, "discounts": money(&currency, discounts), "fees": zero, "relatedContactInformation": [contact],
            "taxItem": [{"taxCategory": "country", "taxRate": rate, "taxAmount": money(&currency, tax)}],
        });
        let mut change = Tracked::new(self, HubApi::Billing, BILL, tenant, &id, bill);
        change.announce("customerBillCreateEvent", None);
        let index = bill_index(&change.doc);
        ops.extend(change.finish(index));
        ops
    }

    /// `retrieveCustomerBill`.
    pub async fn customer_bill(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(BILL, "customerBill", tenant, id).await
    }

    /// `retrieveCustomerBillItem`.
    pub async fn customer_bill_item(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(BILL_ITEM, "customerBillItem", tenant, id).await
    }

    /// `listCustomerBill`: `CustomerBill_Find` (R17).
    pub async fn list_customer_bills(&self, selection: Selection) -> Result<crate::Listing<Value>, BusError> {
        let keys = ["id", "href", "billNo", "billingAccount", "billingPeriod", "category", "state"];
        self.projected(BILL, selection, &keys).await
    }

    /// A payment the Seller received for a bill: the bill is settled when nothing remains, and
    /// payment is due on what does (R20).
    pub async fn record_payment(
        &self,
        tenant: &Tenant,
        id: &str,
        amount: f64,
        method: &str,
    ) -> Result<Value, BusError> {
        self.retrying(|| async {
            let mut change = Tracked::existing(self, HubApi::Billing, BILL, tenant, id).await?;
            let remaining = change.doc["remainingAmount"]["value"].as_f64().unwrap_or(0.0);
            if change.doc["state"] == "settled" || !(amount > 0.0 && round(amount) <= round(remaining)) {
                return Err(BusError::Invalid(vec![Violation::invalid(
                    "/amount",
                    format!("the bill has {remaining} to pay"),
                )]));
            }
            let currency = change.doc["amountDue"]["unit"].as_str().unwrap_or("USD").to_owned();
            let at = change.at.as_str().to_owned();
            let payment = json!({"appliedAmount": money(&currency, amount),
                "payment": {"id": self.ids.next_id(), "amount": money(&currency, amount), "paymentMethod": method, "paymentDate": at}});
            push(&mut change.doc, "appliedPayment", payment);
            set(&mut change.doc, "remainingAmount", money(&currency, remaining - amount));
            set(&mut change.doc, "lastUpdate", at);
            set(&mut change.doc, "state", if round(remaining - amount) == 0.0 { "settled" } else { "paymentDue" });
            change.announce("customerBillStateChangeEvent", None);
            let document = change.doc.clone();
            let index = bill_index(&document);
            self.commit(change.finish(index)).await?;
            Ok(document)
        })
        .await
    }
}
