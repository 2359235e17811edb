//! Built-in specifications, validation findings and the import of the official MEF trees.

use super::*;
use lso_model::ViolationCode;
use serde_json::json;
use std::path::PathBuf;

fn shared_mef() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mef")
}

#[test]
fn every_built_in_specification_compiles_and_accepts_its_example() {
    let catalog = Catalog::built_in().unwrap();
    assert_eq!(catalog.specs().len(), 10);
    assert_eq!(catalog.specs().iter().filter(|s| s.orderable).count(), 9);
    for spec in catalog.specs() {
        assert_eq!(spec.example["@type"], json!(spec.id));
        assert_eq!(spec.check(&spec.example), vec![], "{}", spec.id);
    }
}

#[test]
fn aliases_name_the_same_specification() {
    let catalog = Catalog::built_in().unwrap();
    let uni = catalog.get("urn:mef:lso:spec:sonata:carrier-ethernet-subscriber-uni:v1.0.0:all").unwrap();
    assert_eq!(uni.id, "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all");
}

#[test]
fn findings_point_into_the_configuration() {
    let catalog = Catalog::built_in().unwrap();
    let evpl = catalog.get("urn:mef:lso:spec:cantata-sonata:evpl-evc:v1.0.0:all").unwrap();
    let mut config = evpl.example.clone();
    config["evcEndPointA"]["evcEndPointMap"]["vlanId"] = json!([5000]);
    config["maximumFrameSize"] = json!("big");
    config.as_object_mut().unwrap().remove("evcEndPointZ");
    let mut found: Vec<_> = evpl.check(&config).into_iter().map(|v| (v.code, v.property_path)).collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (ViolationCode::MissingProperty, "/evcEndPointZ".to_owned()),
            (ViolationCode::InvalidValue, "/evcEndPointA/evcEndPointMap/vlanId/0".to_owned()),
            (ViolationCode::InvalidValue, "/maximumFrameSize".to_owned()),
        ]
    );
}

#[test]
fn the_mef_125_order_example_configurations_validate_against_our_specifications() {
    let file = shared_mef().join(
        "Sonata/documentation/productSchema/carrierEthernet/subscriberEthernet/MEF 125.0.1 resources/requests/Use Case 5 Product Order - new EPL.json",
    );
    let order: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let catalog = Catalog::built_in().unwrap();
    for item in order["productOrderItem"].as_array().unwrap() {
        let config = &item["product"]["productConfiguration"];
        let spec = catalog.get(config["@type"].as_str().unwrap()).unwrap();
        assert_eq!(spec.check(config), vec![], "{}", item["id"]);
    }
}

#[test]
fn the_official_sonata_and_cantata_product_schema_trees_import_completely() {
    for irp in ["Sonata", "Cantata"] {
        let mut catalog = Catalog::default();
        let (tree, report) = import::import_tree(&shared_mef().join(irp).join("productSchema"), &mut catalog).unwrap();
        println!(
            "{irp}: {} files, {} repairs, {} specifications compiled, {} failed",
            report.files,
            report.repairs.len(),
            report.compiled.len(),
            report.failed.len()
        );
        assert_eq!(report.failed, vec![], "{irp}");
        assert!(report.compiled.len() >= 17, "{irp}: {}", report.compiled.len());
        // The saved, repaired copy imports to the same specifications.
        let dir = tempfile::tempdir().unwrap();
        tree.save(dir.path()).unwrap();
        let mut again = Catalog::default();
        let (_, second) = import::import_tree(dir.path(), &mut again).unwrap();
        assert_eq!(second.compiled.len(), report.compiled.len());
        assert!(second.repairs.is_empty(), "{:?}", second.repairs);
    }
}

#[test]
fn imported_mef_specifications_validate_the_mef_example() {
    let mut catalog = Catalog::default();
    import::import_tree(&shared_mef().join("Sonata/productSchema"), &mut catalog).unwrap();
    let epl = catalog.get("urn:mef:lso:spec:cantata-sonata:epl-evc:v1.0.0:all").unwrap();
    let bad = json!({"@type": epl.id, "maximumFrameSize": "large"});
    assert!(!epl.check(&bad).is_empty());
}

#[test]
fn a_built_in_specification_of_an_imported_tree_is_validated_by_the_official_schema_and_its_own() {
    let mut catalog = Catalog::built_in().unwrap();
    let mut overlaid = 0;
    for point in ["Sonata", "Cantata"] {
        let mut imported = Catalog::default();
        import::import_tree(&shared_mef().join(point).join("productSchema"), &mut imported).unwrap();
        import::add_imported(&mut catalog, &imported);
    }
    for spec in catalog.specs().iter().filter(|s| s.origin == "built-in") {
        let Some(official) = spec.official() else { continue };
        overlaid += 1;
        assert!(official.origin.ends_with(".yaml") || official.origin.ends_with(".json"), "{}", official.origin);
        assert_eq!(spec.check(&spec.example), [], "{}: its example meets both schemas", spec.id);
    }
    assert!(overlaid >= 10, "{overlaid} built-in specifications have an official schema");

    // The official EVPL schema knows an end point's `colorMap`, lso's own does not: the official
    // refuses a malformed one, located; lso's own limits what its network carries on top.
    let evpl = catalog.get(ids::EVPL).unwrap();
    let mut official_only = evpl.example.clone();
    official_only["evcEndPointA"]["colorMap"] = json!(5);
    let found = evpl.check(&official_only);
    assert!(found.iter().any(|v| v.property_path == "/evcEndPointA/colorMap"), "{found:?}");
    let mut too_big = evpl.example.clone();
    too_big["maximumFrameSize"] = json!(100_000);
    let alone = Catalog::built_in().unwrap();
    let ours = alone.get(ids::EVPL).unwrap();
    assert!(!ours.check(&too_big).is_empty() && !evpl.check(&too_big).is_empty(), "lso's own limits apply too");
    assert!(ours.check(&official_only).is_empty(), "lso's own schema alone lets it pass");
}

#[test]
fn the_named_ids_are_built_in_specifications() {
    let catalog = Catalog::built_in().unwrap();
    for id in [ids::SUBSCRIBER_UNI, ids::EVPL, ids::EVPLAN, ids::EPL, ids::ACCESS_ELINE] {
        assert!(catalog.get(id).is_some_and(|spec| spec.orderable), "{id}");
    }
}

#[test]
fn every_sdk_specification_is_realised_on_the_network_or_inventory_only_with_a_reason() {
    let mut seen = std::collections::BTreeSet::new();
    let built_in = Catalog::built_in().unwrap();
    for point in ["Sonata", "Cantata"] {
        let mut catalog = Catalog::default();
        let (_, report) = import::import_tree(&shared_mef().join(point).join("productSchema"), &mut catalog).unwrap();
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        for spec in catalog.specs() {
            let realisation = realisation::of(&spec.id).unwrap_or_else(|| panic!("{} is not in the table", spec.id));
            seen.insert(realisation::name_of(&spec.id).unwrap().to_owned());
            let expected = match realisation {
                realisation::Realisation::Service(service) => Some(service.to_owned()),
                realisation::Realisation::InventoryOnly(reason) => {
                    assert!(reason.len() > 20, "{}: a reason, not a word", spec.id);
                    None
                }
            };
            assert_eq!(spec.realised_by, expected, "{} as imported", spec.id);
            if let Some(ours) = built_in.get(&spec.id) {
                assert_eq!(ours.realised_by, expected, "{} as built in", spec.id);
            }
        }
    }
    let table: std::collections::BTreeSet<String> = realisation::SDK.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(seen, table, "the table lists the SDK's specifications, no more");
    let documented =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/catalog.md")).unwrap();
    for (name, _) in realisation::SDK {
        assert!(documented.contains(&format!("`{name}`")), "docs/catalog.md says nothing of {name}");
    }
}
