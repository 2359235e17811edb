//! Geography for the serviceability APIs: the addresses a Seller knows (MEF 121 address
//! validation, with matching that tolerates case, abbreviations and typos) and its sites (MEF 122).
//!
//! Addresses and sites are loaded from CSV files (see `docs/geography.md`); `lso` ships a small
//! sample with the sites of its demo network. Strings are kept once each, and the index maps a
//! country and city to their streets, so a million addresses fit in a few hundred megabytes and
//! a validation looks at one city's streets only.

mod matching;

pub use matching::{MatchQuality, normalise_street};

use std::collections::HashMap;

/// The addresses of `lso demo` and the default configuration.
pub const SAMPLE_ADDRESSES: &str = include_str!("../data/addresses.csv");
/// The sites of `lso demo` and the default configuration.
pub const SAMPLE_SITES: &str = include_str!("../data/sites.csv");

/// Why a file is refused.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct GeoError {
    /// The line at fault (1-based).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// An address as the file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Its id, unique across the file.
    pub id: String,
    /// The street number (may be empty).
    pub street_nr: String,
    /// The street's name.
    pub street_name: String,
    /// The street's type (Street, Avenue, …; may be empty).
    pub street_type: String,
    /// The city.
    pub city: String,
    /// The state or province (may be empty).
    pub state_or_province: String,
    /// The postcode (may be empty).
    pub postcode: String,
    /// The country (ISO 3166 alpha-2).
    pub country: String,
}

/// What a Buyer submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressQuery {
    /// The street number, if given.
    pub street_nr: Option<String>,
    /// The street's name (perhaps with its type, e.g. `Main St`).
    pub street_name: String,
    /// The street's type, if given apart.
    pub street_type: Option<String>,
    /// The city.
    pub city: String,
    /// The postcode, if given.
    pub postcode: Option<String>,
    /// The country.
    pub country: String,
}

/// The outcome of a validation (MEF 121 `validationResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// `success`, `partial` or `fail`.
    pub quality: MatchQuality,
    /// The best match, if any.
    pub best: Option<Address>,
    /// Other close matches.
    pub alternates: Vec<Address>,
}

/// One address, its strings kept once in the book.
#[derive(Debug, Clone, Copy)]
struct Row {
    id: u32,
    street_nr: u32,
    street_name: u32,
    street_type: u32,
    city: u32,
    state: u32,
    postcode: u32,
    country: u32,
}

/// Strings kept once each.
#[derive(Debug, Default)]
struct Strings {
    text: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Strings {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.text.len() as u32;
        self.text.push(text.into());
        self.index.insert(text.into(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        &self.text[id as usize]
    }

    fn find(&self, text: &str) -> Option<u32> {
        self.index.get(text).copied()
    }
}

/// A street of a city: its normalised full name, its name alone, and its addresses.
#[derive(Debug, Default)]
struct Street {
    full: u32,
    name: u32,
    rows: Vec<u32>,
}

/// The addresses a Seller knows, indexed by country, city and street.
#[derive(Debug, Default)]
pub struct AddressBook {
    strings: Strings,
    keys: Strings,
    rows: Vec<Row>,
    by_id: HashMap<u32, u32>,
    /// (country key, city key) → streets.
    cities: HashMap<(u32, u32), Vec<Street>>,
    /// country key → its city keys.
    city_names: HashMap<u32, Vec<u32>>,
    /// (country key, postcode key) → city keys.
    postcodes: HashMap<(u32, u32), Vec<u32>>,
}

/// The fields of each data line of a CSV file (`#` starts a comment line; fields may be
/// quoted with `"`, a doubled quote standing for one).
pub fn csv_lines(text: &str) -> impl Iterator<Item = (usize, Vec<String>)> + '_ {
    text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#')).map(
        |(n, line)| {
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        field.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut field).trim().to_owned()),
                    (c, _) => field.push(c),
                }
            }
            fields.push(field.trim().to_owned());
            (n + 1, fields)
        },
    )
}

impl AddressBook {
    /// Reads `text`: `id,streetNr,streetName,streetType,city,stateOrProvince,postcode,country`.
    pub fn parse(text: &str) -> Result<Self, GeoError> {
        let mut book = AddressBook::default();
        for (line, fields) in csv_lines(text) {
            let [id, nr, name, kind, city, state, postcode, country] = fields.as_slice() else {
                return Err(GeoError { line, reason: format!("8 fields expected, {} found", fields.len()) });
            };
            if id.is_empty() || name.is_empty() || city.is_empty() || country.is_empty() {
                return Err(GeoError { line, reason: "id, streetName, city and country are required".into() });
            }
            book.insert(line, [id, nr, name, kind, city, state, postcode, country])?;
        }
        Ok(book)
    }

    fn insert(&mut self, line: usize, fields: [&String; 8]) -> Result<(), GeoError> {
        let [id, nr, name, kind, city, state, postcode, country] = fields.map(|f| self.strings.intern(f));
        let index = self.rows.len() as u32;
        if self.by_id.insert(id, index).is_some() {
            return Err(GeoError { line, reason: format!("address `{}` is defined twice", self.strings.get(id)) });
        }
        self.rows.push(Row { id, street_nr: nr, street_name: name, street_type: kind, city, state, postcode, country });
        let country_key = self.keys.intern(&matching::normalise_country(fields[7]));
        let city_key = self.keys.intern(&matching::normalise(fields[4]));
        let full = self.keys.intern(&normalise_street(fields[2], fields[3]));
        let name_key = self.keys.intern(&normalise_street(fields[2], ""));
        let streets = self.cities.entry((country_key, city_key)).or_default();
        match streets.iter_mut().find(|s| s.full == full) {
            Some(street) => street.rows.push(index),
            None => {
                streets.push(Street { full, name: name_key, rows: vec![index] });
                let names = self.city_names.entry(country_key).or_default();
                if !names.contains(&city_key) {
                    names.push(city_key);
                }
            }
        }
        if !fields[6].is_empty() {
            let postcode_key = self.keys.intern(&matching::normalise(fields[6]));
            let cities = self.postcodes.entry((country_key, postcode_key)).or_default();
            if !cities.contains(&city_key) {
                cities.push(city_key);
            }
        }
        Ok(())
    }

    /// How many addresses it holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn address(&self, row: u32) -> Address {
        let r = self.rows[row as usize];
        let s = |id| self.strings.get(id).to_owned();
        Address {
            id: s(r.id),
            street_nr: s(r.street_nr),
            street_name: s(r.street_name),
            street_type: s(r.street_type),
            city: s(r.city),
            state_or_province: s(r.state),
            postcode: s(r.postcode),
            country: s(r.country),
        }
    }

    /// The address with `id`.
    pub fn get(&self, id: &str) -> Option<Address> {
        let id = self.strings.find(id)?;
        self.by_id.get(&id).map(|row| self.address(*row))
    }

    /// The address best matching `query`, other close ones, and how good the match is.
    pub fn validate(&self, query: &AddressQuery) -> Validation {
        let fail = Validation { quality: MatchQuality::Fail, best: None, alternates: Vec::new() };
        let Some(country) = self.keys.find(&matching::normalise_country(&query.country)) else { return fail };
        let (cities, mut exact) = self.candidate_cities(country, query);
        let mut candidates: Vec<(usize, u32)> = Vec::new();
        for city in cities {
            let Some(streets) = self.cities.get(&(country, city)) else { continue };
            let (distance, found) = self.closest_streets(streets, query);
            candidates.extend(found.iter().flat_map(|s| s.rows.iter().map(move |row| (distance, *row))));
        }
        let Some(best_distance) = candidates.iter().map(|(d, _)| *d).min() else { return fail };
        exact &= best_distance == 0;
        candidates.retain(|(d, _)| *d == best_distance);
        let wanted = query.street_nr.as_deref().map(matching::normalise).unwrap_or_default();
        let number = |row: u32| matching::normalise(self.strings.get(self.rows[row as usize].street_nr));
        // Same number first, then the nearest numbers.
        let numeric =
            |text: &str| text.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<i64>().ok();
        let target = numeric(&wanted);
        candidates.sort_by_key(|(_, row)| {
            let n = number(*row);
            (
                n != wanted,
                match (target, numeric(&n)) {
                    (Some(a), Some(b)) => (a - b).abs(),
                    _ => i64::MAX,
                },
            )
        });
        let numbered = candidates.first().is_some_and(|(_, row)| number(*row) == wanted);
        let postcode_ok = query.postcode.as_ref().is_none_or(|p| {
            candidates.first().is_some_and(|(_, row)| {
                matching::normalise(self.strings.get(self.rows[*row as usize].postcode)) == matching::normalise(p)
            })
        });
        let quality = if exact && numbered && postcode_ok { MatchQuality::Success } else { MatchQuality::Partial };
        let mut addresses = candidates.into_iter().take(11).map(|(_, row)| self.address(row));
        let best = addresses.next();
        Validation { quality, best, alternates: addresses.collect() }
    }

    /// The cities to look in: the city named if known, else those of the postcode, else the
    /// names closest to it; and whether the city was found as named.
    fn candidate_cities(&self, country: u32, query: &AddressQuery) -> (Vec<u32>, bool) {
        let named = matching::normalise(&query.city);
        if let Some(city) = self.keys.find(&named).filter(|c| self.cities.contains_key(&(country, *c))) {
            return (vec![city], true);
        }
        if let Some(cities) = query
            .postcode
            .as_deref()
            .and_then(|p| self.keys.find(&matching::normalise(p)))
            .and_then(|p| self.postcodes.get(&(country, p)))
        {
            return (cities.clone(), false);
        }
        let names = self.city_names.get(&country).map_or(&[][..], Vec::as_slice);
        let closest = matching::closest(names.iter().map(|c| (*c, self.keys.get(*c))), &named);
        (closest.1, false)
    }

    /// The streets of a city closest to the query's street, with their distance.
    fn closest_streets<'a>(&self, streets: &'a [Street], query: &AddressQuery) -> (usize, Vec<&'a Street>) {
        let given_type = query.street_type.as_deref().unwrap_or("");
        let full = normalise_street(&query.street_name, given_type);
        let by_full = matching::closest(streets.iter().map(|s| (s, self.keys.get(s.full))), &full);
        if !given_type.is_empty() || by_full.0 == 0 {
            return by_full;
        }
        // No type given: the name alone may be the street's name without its type.
        let by_name = matching::closest(streets.iter().map(|s| (s, self.keys.get(s.name))), &full);
        if by_name.0 < by_full.0 { by_name } else { by_full }
    }
}

/// A site (MEF 122).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `public` or `private` (MEF `siteType`).
    pub site_type: String,
    /// The address it is at.
    pub address: Address,
    /// The company at the site.
    pub company_name: String,
    /// The customer at the site.
    pub customer_name: String,
    /// What it is.
    pub description: String,
    /// The person to contact at the site, with an email address and a phone number.
    pub contact: [String; 3],
    /// For a private site, the Buyer allowed to know of it.
    pub buyer: Option<String>,
}

impl Site {
    /// Whether Buyer `buyer` may know of it (a public site, or a private site of its own).
    pub fn visible_to(&self, buyer: &str) -> bool {
        self.site_type == "public" || self.buyer.as_deref() == Some(buyer)
    }
}

/// The addresses and sites a Seller knows.
#[derive(Debug, Default)]
pub struct Geography {
    /// The addresses.
    pub addresses: AddressBook,
    /// The sites, each at one of the addresses.
    pub sites: Vec<Site>,
}

impl Geography {
    /// Reads an address file and a site file.
    pub fn parse(addresses: &str, sites: &str) -> Result<Self, GeoError> {
        let addresses = AddressBook::parse(addresses)?;
        let sites = parse_sites(sites, &addresses)?;
        Ok(Geography { addresses, sites })
    }
}

/// Reads sites (`id,name,siteType,addressId,companyName,customerName,description,contactName,
/// contactEmail,contactNumber` and, for a private site, `buyerId`), each at an address of `book`.
pub fn parse_sites(text: &str, book: &AddressBook) -> Result<Vec<Site>, GeoError> {
    let mut sites: Vec<Site> = Vec::new();
    for (line, fields) in csv_lines(text) {
        let (required, buyer) = match fields.as_slice() {
            [required @ .., buyer] if fields.len() == 11 => (required, Some(buyer.clone()).filter(|b| !b.is_empty())),
            required => (required, None),
        };
        let [id, name, site_type, address, company, customer, description, contact, email, number] = required else {
            return Err(GeoError { line, reason: format!("10 or 11 fields expected, {} found", fields.len()) });
        };
        if sites.iter().any(|s| &s.id == id) {
            return Err(GeoError { line, reason: format!("site `{id}` is defined twice") });
        }
        if !matches!(site_type.as_str(), "public" | "private") {
            return Err(GeoError { line, reason: format!("siteType `{site_type}` is neither public nor private") });
        }
        let address = book.get(address).ok_or_else(|| GeoError { line, reason: format!("no address `{address}`") })?;
        sites.push(Site {
            id: id.clone(),
            name: name.clone(),
            site_type: site_type.clone(),
            address,
            company_name: company.clone(),
            customer_name: customer.clone(),
            description: description.clone(),
            contact: [contact.clone(), email.clone(), number.clone()],
            buyer,
        });
    }
    Ok(sites)
}

#[cfg(test)]
mod tests;
