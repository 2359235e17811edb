//! `bench address`: validation against a generated address book of `--addresses` addresses
//! (cities and streets with made-up names, ten numbers per street), timed per request, with the
//! memory the book takes. A third of the requests are exact, a third have a typo in the
//! street, a third are abbreviated and in other case.

use lso_geo::{AddressBook, AddressQuery, MatchQuality};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const SYLLABLES: &[&str] =
    &["bar", "kel", "mon", "tri", "sar", "vel", "dor", "lin", "qua", "pes", "rot", "nim", "gal", "hov", "zen", "fur"];
const TYPES: &[(&str, &str)] =
    &[("Street", "st"), ("Avenue", "ave"), ("Road", "rd"), ("Boulevard", "blvd"), ("Lane", "ln")];

fn name(rng: &mut StdRng, syllables: usize) -> String {
    let mut text: String = (0..syllables).map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())]).collect();
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    text
}

pub(crate) fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Builds the book, validates `requests` addresses, prints the figures.
pub fn run(addresses: usize, requests: usize) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(11);
    let (streets_per_city, numbers) = (50, 10);
    let cities = addresses.div_ceil(streets_per_city * numbers);
    let mut text = String::with_capacity(addresses * 60);
    let mut streets = Vec::new();
    let mut written = 0;
    'all: for c in 0..cities {
        let city = format!("{} {}", name(&mut rng, 2), name(&mut rng, 2));
        let postcode = format!("{:05}", c);
        for _ in 0..streets_per_city {
            let (street, kind) = (name(&mut rng, 3), rng.random_range(0..TYPES.len()));
            streets.push((city.clone(), street.clone(), kind));
            for n in 0..numbers {
                text.push_str(&format!(
                    "a{written},{},{street},{},{city},ST,{postcode},US\n",
                    2 * n + 1,
                    TYPES[kind].0
                ));
                written += 1;
                if written == addresses {
                    break 'all;
                }
            }
        }
    }
    let before = rss_kib();
    let started = Instant::now();
    let book = AddressBook::parse(&text)?;
    let built = started.elapsed();
    drop(text);
    let after = rss_kib();
    let mut times = Vec::with_capacity(requests);
    let mut outcomes = [0usize; 3];
    for r in 0..requests {
        let (city, street, kind) = &streets[rng.random_range(0..streets.len())];
        let number = (2 * rng.random_range(0..numbers) + 1).to_string();
        let query = match r % 3 {
            0 => AddressQuery {
                street_nr: Some(number),
                street_name: street.clone(),
                street_type: Some(TYPES[*kind].0.into()),
                city: city.clone(),
                postcode: None,
                country: "US".into(),
            },
            1 => {
                let mut typo = street.clone();
                typo.remove(typo.len() / 2);
                AddressQuery {
                    street_nr: Some(number),
                    street_name: typo,
                    street_type: Some(TYPES[*kind].0.into()),
                    city: city.clone(),
                    postcode: None,
                    country: "US".into(),
                }
            }
            _ => AddressQuery {
                street_nr: Some(number),
                street_name: format!("{} {}.", street.to_uppercase(), TYPES[*kind].1),
                street_type: None,
                city: city.to_lowercase(),
                postcode: None,
                country: "usa".into(),
            },
        };
        let started = Instant::now();
        let validation = book.validate(&query);
        times.push(started.elapsed());
        outcomes[match validation.quality {
            MatchQuality::Success => 0,
            MatchQuality::Partial => 1,
            MatchQuality::Fail => 2,
        }] += 1;
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "address validation against {} addresses ({} cities): built in {:.1} s, the book takes {} MB of RSS",
        book.len(),
        cities,
        built.as_secs_f64(),
        after.saturating_sub(before) / 1024
    );
    println!(
        "{requests} validations: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} success, {} partial, {} fail; process RSS {} MB",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0)),
        outcomes[0],
        outcomes[1],
        outcomes[2],
        after / 1024
    );
    Ok(())
}
