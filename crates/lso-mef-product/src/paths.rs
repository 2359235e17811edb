//! Base paths and major versions of the product APIs per reference point (MEF 123 §5.2).

use lso_model::Irp;

/// `/mefApi/{irp}/productOrderingManagement/v{major}`.
pub fn ordering_base(irp: Irp) -> String {
    let major = match irp {
        Irp::Sonata => 10,
        Irp::Cantata => 5,
    };
    format!("/mefApi/{irp}/productOrderingManagement/v{major}")
}

/// `/mefApi/{irp}/productOrderingNotification/v{major}`: the Buyer's listener base.
pub fn ordering_notification_base(irp: Irp) -> String {
    ordering_base(irp).replace("productOrderingManagement", "productOrderingNotification")
}

/// `/mefApi/{irp}/productInventory/v{major}`.
pub fn inventory_base(irp: Irp) -> String {
    let major = match irp {
        Irp::Sonata => 7,
        Irp::Cantata => 1,
    };
    format!("/mefApi/{irp}/productInventory/v{major}")
}

/// `/mefApi/{irp}/productInventoryNotification/v{major}`: listener base of the inventory events
/// `lso` adds to MEF 116, which defines none in this release.
pub fn inventory_notification_base(irp: Irp) -> String {
    inventory_base(irp).replace("productInventory", "productInventoryNotification")
}

/// `/mefApi/{irp}/geographicAddressManagement/v{major}`: Address Management (Sonata 7.0.1,
/// Cantata 1.0.1).
pub fn address_base(irp: Irp) -> String {
    let major = match irp {
        Irp::Sonata => 7,
        Irp::Cantata => 1,
    };
    format!("/mefApi/{irp}/geographicAddressManagement/v{major}")
}

/// `/mefApi/{irp}/geographicSiteManagement/v{major}`: Site Management (Sonata 7.0.1, Cantata
/// 1.0.1).
pub fn site_base(irp: Irp) -> String {
    let major = match irp {
        Irp::Sonata => 7,
        Irp::Cantata => 1,
    };
    format!("/mefApi/{irp}/geographicSiteManagement/v{major}")
}

/// `/mefApi/{irp}/productCatalog/v2`: Product Catalog (2.0.0-RC for both reference points).
pub fn catalog_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/productCatalog/v2")
}

/// `/mefApi/{irp}/productCatalogNotifications/v2`: the Buyer's listener base of catalog events.
pub fn catalog_notification_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/productCatalogNotifications/v2")
}

/// `/mefApi/{irp}/productOfferingQualification/v{major}`: POQ (Sonata 7.0.1, Cantata 1.0.1).
pub fn poq_base(irp: Irp) -> String {
    let major = match irp {
        Irp::Sonata => 7,
        Irp::Cantata => 1,
    };
    format!("/mefApi/{irp}/productOfferingQualification/v{major}")
}

/// `/mefApi/{irp}/productOfferingQualificationNotification/v{major}`: the Buyer's POQ listeners.
pub fn poq_notification_base(irp: Irp) -> String {
    let major = match irp {
        Irp::Sonata => 7,
        Irp::Cantata => 1,
    };
    format!("/mefApi/{irp}/productOfferingQualificationNotification/v{major}")
}

/// `/mefApi/{irp}/productOfferingAvailabilityAndPricingDiscovery/v2`: Availability and Pricing
/// Discovery (2.0.0-RC for both reference points).
pub fn discovery_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/productOfferingAvailabilityAndPricingDiscovery/v2")
}

/// `/mefApi/{irp}/quoteManagement/v{major}`: Quote Management (Sonata 8.0.1, Cantata 2.0.1).
pub fn quote_base(irp: Irp) -> String {
    let major = match irp {
        Irp::Sonata => 8,
        Irp::Cantata => 2,
    };
    format!("/mefApi/{irp}/quoteManagement/v{major}")
}

/// `/mefApi/{irp}/quoteNotification/v{major}`: the Buyer's quote listeners.
pub fn quote_notification_base(irp: Irp) -> String {
    quote_base(irp).replace("quoteManagement", "quoteNotification")
}

/// `/mefApi/{irp}/troubleTicket/v4`: Trouble Ticket and Incident Management (4.0.0 for both
/// reference points).
pub fn ticket_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/troubleTicket/v4")
}

/// `/mefApi/{irp}/troubleTicketNotification/v4`: the Buyer's ticket and incident listeners.
pub fn ticket_notification_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/troubleTicketNotification/v4")
}

/// `/mefApi/{irp}/appointment/v2`: Appointment Management (MEF 137, 2.0 for both reference
/// points).
pub fn appointment_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/appointment/v2")
}

/// `/mefApi/{irp}/appointmentNotification/v2`: the Buyer's appointment listeners.
pub fn appointment_notification_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/appointmentNotification/v2")
}

/// `/mefApi/{irp}/workOrderManagement/v2`: Work Order Management (MEF 137).
pub fn work_order_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/workOrderManagement/v2")
}

/// `/mefApi/{irp}/workOrderNotification/v2`: the Buyer's work order listeners.
pub fn work_order_notification_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/workOrderNotification/v2")
}

/// `/mefApi/{irp}/customerBillManagement/v2`: Customer Bill Management (MEF 141, 2.0 for both
/// reference points).
pub fn billing_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/customerBillManagement/v2")
}

/// `/mefApi/{irp}/customerBillNotification/v2`: the Buyer's bill listeners.
pub fn billing_notification_base(irp: Irp) -> String {
    format!("/mefApi/{irp}/customerBillNotification/v2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_match_the_api_files() {
        assert_eq!(ordering_base(Irp::Sonata), "/mefApi/sonata/productOrderingManagement/v10");
        assert_eq!(ordering_notification_base(Irp::Cantata), "/mefApi/cantata/productOrderingNotification/v5");
        assert_eq!(inventory_base(Irp::Sonata), "/mefApi/sonata/productInventory/v7");
        assert_eq!(inventory_base(Irp::Cantata), "/mefApi/cantata/productInventory/v1");
    }
}
