//! Address matching on the sample and on generated books.

use super::*;

fn sample() -> AddressBook {
    AddressBook::parse(SAMPLE_ADDRESSES).unwrap()
}

fn query(
    nr: Option<&str>,
    street: &str,
    kind: Option<&str>,
    city: &str,
    postcode: Option<&str>,
    country: &str,
) -> AddressQuery {
    AddressQuery {
        street_nr: nr.map(str::to_owned),
        street_name: street.into(),
        street_type: kind.map(str::to_owned),
        city: city.into(),
        postcode: postcode.map(str::to_owned),
        country: country.into(),
    }
}

#[test]
fn an_address_as_written_is_a_success_and_case_abbreviations_and_typos_are_partial_matches_of_it() {
    let book = sample();
    let exact = book.validate(&query(Some("100"), "Summer", Some("Street"), "Boston", Some("02110"), "US"));
    assert_eq!(exact.quality, MatchQuality::Success);
    assert_eq!(exact.best.unwrap().id, "addr-bo-2");

    let abbreviated = book.validate(&query(Some("100"), "summer st.", None, "BOSTON", None, "USA"));
    assert_eq!(abbreviated.quality, MatchQuality::Success, "case and St. are the same street");
    assert_eq!(abbreviated.best.unwrap().id, "addr-bo-2");

    let typo = book.validate(&query(Some("100"), "Sumer", Some("Street"), "Bostn", None, "US"));
    assert_eq!(typo.quality, MatchQuality::Partial);
    assert_eq!(typo.best.unwrap().id, "addr-bo-2");

    let other_number = book.validate(&query(Some("90"), "Beacon", Some("St"), "Boston", None, "US"));
    assert_eq!(other_number.quality, MatchQuality::Partial);
    let ids: Vec<String> =
        std::iter::once(other_number.best.unwrap()).chain(other_number.alternates).map(|a| a.id).collect();
    assert_eq!(ids, ["addr-bo-4", "addr-bo-1"], "nearest numbers first");

    let by_postcode =
        book.validate(&query(Some("1600"), "Pennsylvania", Some("Ave"), "Washingtn DC", Some("20500"), "US"));
    assert_eq!(by_postcode.best.unwrap().id, "addr-wa-1", "the postcode finds the city");

    for nothing in [
        query(Some("1"), "Nowhere", Some("Road"), "Boston", None, "US"),
        query(Some("1"), "Beacon", Some("Street"), "Boston", None, "FR"),
        query(Some("1"), "Beacon", Some("Street"), "Springfield", None, "US"),
    ] {
        let found = book.validate(&nothing);
        assert_eq!((found.quality, found.best, found.alternates.len()), (MatchQuality::Fail, None, 0), "{nothing:?}");
    }
}

#[test]
fn bad_files_are_refused_with_their_line() {
    let twice = "a,1,Main,St,X,,1,US\na,2,Main,St,X,,1,US\n";
    assert_eq!(AddressBook::parse(twice).unwrap_err().to_string(), "line 2: address `a` is defined twice");
    assert_eq!(AddressBook::parse("a,1,Main\n").unwrap_err().to_string(), "line 1: 8 fields expected, 3 found");
    let book = sample();
    assert!(parse_sites(SAMPLE_SITES, &book).unwrap().iter().any(|s| s.id == "site-boston"));
    let closet = parse_sites(SAMPLE_SITES, &book).unwrap().into_iter().find(|s| s.id == "site-boston-closet").unwrap();
    assert!(closet.visible_to("ACME") && !closet.visible_to("OTHER"), "a private site is its Buyer's only");
    let dangling = "s1,Site,public,addr-nowhere,C,C,D,P,p@example.com,1\n";
    assert_eq!(parse_sites(dangling, &book).unwrap_err().to_string(), "line 1: no address `addr-nowhere`");
    let quoted = AddressBook::parse("\"q,1\",\"7\",\"O\"\"Neil\",Street,Cork,,T12,IE\n").unwrap();
    assert_eq!(quoted.get("q,1").unwrap().street_name, "O\"Neil");
}
