//! The Nexmark benchmark's event generator: people, auctions and bids in the proportions,
//! distributions and sizes of the Nexmark Flink connector (hot sellers, bidders and auctions,
//! prices spread over six orders of magnitude, padding to average sizes). Event `n` is drawn
//! from a `java.util.Random` seeded by a hash of its id and the table's seed, so it is the same event
//! whichever subtask makes it and however often a restarted job makes it again.

use sluice_core::random::{GOLDEN, splitmix64};

use super::java_random::JavaRandom;

/// Person and auction ids start here, so small runs still find joinable ids.
const FIRST_PERSON_ID: i64 = 1000;
const FIRST_AUCTION_ID: i64 = 1000;
const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: i32 = 5;
/// Ids of people and auctions not created yet that events may name.
const PERSON_ID_LEAD: i64 = 10;
const AUCTION_ID_LEAD: i64 = 10;
/// One in this many people or auctions is "hot".
const HOT_RATIO: i64 = 100;
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const CHANNELS: i32 = 10_000;
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// What the generator makes, from the connector's options.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Out of `person + auction + bid` events, this many are people, auctions, bids.
    pub person_proportion: i64,
    /// See `person_proportion`.
    pub auction_proportion: i64,
    /// See `person_proportion`.
    pub bid_proportion: i64,
    /// One in this many bids is for a random auction; the others go to a hot one.
    pub hot_auction_ratio: i32,
    /// One in this many bids is by a random person; the others by a hot bidder.
    pub hot_bidders_ratio: i32,
    /// One in this many auctions is by a random seller; the others by a hot seller.
    pub hot_sellers_ratio: i32,
    /// The people bids and auctions are drawn from.
    pub active_people: i64,
    /// The auctions bids are drawn from.
    pub in_flight_auctions: i64,
    /// Average sizes the `extra` column pads each event to, in bytes.
    pub avg_person_size: i32,
    /// See `avg_person_size`.
    pub avg_auction_size: i32,
    /// See `avg_person_size`.
    pub avg_bid_size: i32,
    /// Event time between two events, in microseconds (one over the event rate).
    pub inter_event_delay_us: f64,
    /// Event time of the generator's start, in epoch milliseconds.
    pub base_time: i64,
    /// Mixed into every event's random seed.
    pub seed: i64,
}

/// A new person.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email_address: String,
    pub credit_card: String,
    pub city: &'static str,
    pub state: &'static str,
    pub date_time: i64,
    pub extra: String,
}

/// A new auction.
#[derive(Debug, Clone, PartialEq)]
pub struct Auction {
    pub id: i64,
    pub item_name: String,
    pub description: String,
    pub initial_bid: i64,
    pub reserve: i64,
    pub date_time: i64,
    pub expires: i64,
    pub seller: i64,
    pub category: i64,
    pub extra: String,
}

/// A bid on an auction.
#[derive(Debug, Clone, PartialEq)]
pub struct Bid {
    pub auction: i64,
    pub bidder: i64,
    pub price: i64,
    pub channel: &'static str,
    pub url: &'static str,
    pub date_time: i64,
    pub extra: String,
}

/// One generated event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `event_type` 0.
    Person(Person),
    /// `event_type` 1.
    Auction(Auction),
    /// `event_type` 2.
    Bid(Bid),
}

impl GeneratorConfig {
    fn total_proportion(&self) -> i64 {
        self.person_proportion + self.auction_proportion + self.bid_proportion
    }

    /// The event time of the event numbered `event_number`.
    pub fn timestamp_of(&self, event_number: i64) -> i64 {
        self.base_time + (event_number as f64 * self.inter_event_delay_us) as i64 / 1000
    }

    /// The `n`-th event (from 0) of the stream: its number and id are both `n`.
    pub fn event(&self, n: u64) -> Event {
        let (number, id) = (n as i64, n as i64);
        let timestamp = self.timestamp_of(number);
        // java.util.Random's first draws barely differ between neighbouring seeds: mix them.
        let mixed = splitmix64((id as u64) ^ (self.seed as u64).wrapping_mul(GOLDEN));
        let mut random = JavaRandom::new(mixed as i64);
        let slot = id % self.total_proportion();
        if slot < self.person_proportion {
            Event::Person(self.person(id, &mut random, timestamp))
        } else if slot < self.person_proportion + self.auction_proportion {
            Event::Auction(self.auction(number, id, &mut random, timestamp))
        } else {
            Event::Bid(self.bid(id, &mut random, timestamp))
        }
    }

    fn person(&self, id: i64, random: &mut JavaRandom, timestamp: i64) -> Person {
        let name = format!(
            "{} {}",
            pick(random, &FIRST_NAMES),
            pick(random, &LAST_NAMES)
        );
        let email_address = format!(
            "{}@{}.com",
            next_string(random, 7, ' '),
            next_string(random, 5, ' ')
        );
        let credit_card = (0..4)
            .map(|_| format!("{:04}", random.next_int_below(10_000)))
            .collect::<Vec<_>>()
            .join(" ");
        let city = pick(random, &US_CITIES);
        let state = pick(random, &US_STATES);
        let size =
            8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len();
        let extra = next_extra(random, size as i32, self.avg_person_size);
        Person {
            id: self.last_person(id) + FIRST_PERSON_ID,
            name,
            email_address,
            credit_card,
            city,
            state,
            date_time: timestamp,
            extra,
        }
    }

    fn auction(&self, number: i64, id: i64, random: &mut JavaRandom, timestamp: i64) -> Auction {
        let seller = if random.next_int_below(self.hot_sellers_ratio) > 0 {
            (self.last_person(id) / HOT_RATIO) * HOT_RATIO
        } else {
            self.random_person(id, random)
        };
        let category = FIRST_CATEGORY_ID + i64::from(random.next_int_below(NUM_CATEGORIES));
        let initial_bid = next_price(random);
        let expires = timestamp + self.auction_length(number, random, timestamp);
        let item_name = next_string(random, 20, ' ');
        let description = next_string(random, 100, ' ');
        let reserve = initial_bid + next_price(random);
        let size = 8 + item_name.len() + description.len() + 8 * 5;
        let extra = next_extra(random, size as i32, self.avg_auction_size);
        Auction {
            id: self.last_auction(id) + FIRST_AUCTION_ID,
            item_name,
            description,
            initial_bid,
            reserve,
            date_time: timestamp,
            expires,
            seller: seller + FIRST_PERSON_ID,
            category,
            extra,
        }
    }

    fn bid(&self, id: i64, random: &mut JavaRandom, timestamp: i64) -> Bid {
        let auction = if random.next_int_below(self.hot_auction_ratio) > 0 {
            (self.last_auction(id) / HOT_RATIO) * HOT_RATIO
        } else {
            self.random_auction(id, random)
        };
        let bidder = if random.next_int_below(self.hot_bidders_ratio) > 0 {
            (self.last_person(id) / HOT_RATIO) * HOT_RATIO + 1
        } else {
            self.random_person(id, random)
        };
        let price = next_price(random);
        let (channel, url) = if random.next_int_below(2) > 0 {
            let i = random.next_int_below(HOT_CHANNELS.len() as i32) as usize;
            let (channel, url) = &channels().hot[i];
            (channel.as_str(), url.as_str())
        } else {
            let (channel, url) = &channels().others[random.next_int_below(CHANNELS) as usize];
            (channel.as_str(), url.as_str())
        };
        let extra = next_extra(random, 8 * 4, self.avg_bid_size);
        Bid {
            auction: auction + FIRST_AUCTION_ID,
            bidder: bidder + FIRST_PERSON_ID,
            price,
            channel,
            url,
            date_time: timestamp,
            extra,
        }
    }

    /// The last person created at or before event `id` (from 0).
    fn last_person(&self, id: i64) -> i64 {
        let epoch = id / self.total_proportion();
        let offset = (id % self.total_proportion()).min(self.person_proportion - 1);
        epoch * self.person_proportion + offset
    }

    /// The last auction created at or before event `id` (from 0).
    fn last_auction(&self, id: i64) -> i64 {
        let mut epoch = id / self.total_proportion();
        let mut offset = id % self.total_proportion();
        if offset < self.person_proportion {
            epoch -= 1;
            offset = self.auction_proportion - 1;
        } else if offset >= self.person_proportion + self.auction_proportion {
            offset = self.auction_proportion - 1;
        } else {
            offset -= self.person_proportion;
        }
        epoch * self.auction_proportion + offset
    }

    /// One of the active people, or a few not created yet.
    fn random_person(&self, id: i64, random: &mut JavaRandom) -> i64 {
        let people = self.last_person(id) + 1;
        let active = people.min(self.active_people);
        people - active + next_long(random, active + PERSON_ID_LEAD)
    }

    /// One of the auctions in flight, or a few not created yet.
    fn random_auction(&self, id: i64, random: &mut JavaRandom) -> i64 {
        let last = self.last_auction(id);
        let first = (last - self.in_flight_auctions).max(0);
        first + next_long(random, last - first + 1 + AUCTION_ID_LEAD)
    }

    /// How long an auction runs: on average until the auction `in_flight_auctions` later is due.
    fn auction_length(&self, number: i64, random: &mut JavaRandom, timestamp: i64) -> i64 {
        let events_ahead =
            (self.in_flight_auctions * self.total_proportion()) / self.auction_proportion.max(1);
        let horizon = self.timestamp_of(number + events_ahead) - timestamp;
        1 + next_long(random, (horizon * 2).max(1))
    }
}

fn pick(random: &mut JavaRandom, values: &[&'static str]) -> &'static str {
    values[random.next_int_below(values.len() as i32) as usize]
}

/// A random number in `0..n`.
fn next_long(random: &mut JavaRandom, n: i64) -> i64 {
    if n < i64::from(i32::MAX) {
        i64::from(random.next_int_below(n as i32))
    } else {
        (random.next_long() % n).abs()
    }
}

/// A price in cents, from 1 to 100,000,000, spread evenly over the orders of magnitude.
fn next_price(random: &mut JavaRandom) -> i64 {
    (10f64.powf(random.next_double() * 6.0) * 100.0 + 0.5).floor() as i64
}

/// Up to `max_length - 1` letters with about one `special` in 13, trimmed of spaces.
fn next_string(random: &mut JavaRandom, max_length: i32, special: char) -> String {
    let length = 3 + random.next_int_below(max_length - 3);
    let text: String = (0..length)
        .map(|_| {
            if random.next_int_below(13) == 0 {
                special
            } else {
                char::from(b'a' + random.next_int_below(26) as u8)
            }
        })
        .collect();
    text.trim_matches(' ').to_string()
}

/// Exactly `length` characters, six from each random int (Java's remainder keeps the sign, so
/// some fall below `a`, as the Nexmark generator's do).
fn next_exact_string(random: &mut JavaRandom, length: i32) -> String {
    let mut remaining = length.max(0) as usize;
    let mut text = Vec::with_capacity(remaining);
    while remaining > 0 {
        let mut bits = random.next_int();
        for _ in 0..remaining.min(6) {
            text.push((i32::from(b'a') + bits % 26) as u8);
            bits /= 26;
        }
        remaining = remaining.saturating_sub(6);
    }
    // Every byte is ASCII ('a' - 25 to 'z').
    String::from_utf8(text).unwrap_or_default()
}

/// Padding that brings an event of `size` bytes to `average` bytes on average (±20%).
fn next_extra(random: &mut JavaRandom, size: i32, average: i32) -> String {
    if size > average {
        return String::new();
    }
    let wanted = average - size;
    let delta = (f64::from(wanted) * 0.2 + 0.5).floor() as i32;
    let length = wanted - delta
        + if delta == 0 {
            0
        } else {
            random.next_int_below(2 * delta)
        };
    next_exact_string(random, length)
}

/// The channels bids come from, with the page each links to: made once per process, as the
/// Nexmark generator caches them.
struct Channels {
    hot: Vec<(String, String)>,
    others: Vec<(String, String)>,
}

fn channels() -> &'static Channels {
    static CHANNELS_AND_URLS: std::sync::OnceLock<Channels> = std::sync::OnceLock::new();
    CHANNELS_AND_URLS.get_or_init(|| Channels {
        hot: (0..HOT_CHANNELS.len() as i32)
            .map(|i| (HOT_CHANNELS[i as usize].to_string(), hot_url(i)))
            .collect(),
        others: (0..CHANNELS)
            .map(|c| (format!("channel-{c}"), channel_url(c)))
            .collect(),
    })
}

/// A page of the auction site, from the random numbers of `seed`.
fn base_url(seed: i64) -> (String, JavaRandom) {
    let mut random = JavaRandom::new(seed);
    let url = format!(
        "https://www.nexmark.com/{}/{}/{}/item.htm?query=1",
        next_string(&mut random, 5, '_'),
        next_string(&mut random, 5, '_'),
        next_string(&mut random, 5, '_')
    );
    (url, random)
}

/// The page a hot channel links to.
fn hot_url(channel: i32) -> String {
    base_url(-1 - i64::from(channel)).0
}

/// The page channel `channel` links to: nine in ten carry the channel's id.
fn channel_url(channel: i32) -> String {
    let (url, mut random) = base_url(i64::from(channel));
    if random.next_int_below(10) > 0 {
        format!("{url}&channel_id={}", channel.reverse_bits().wrapping_abs())
    } else {
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn config() -> GeneratorConfig {
        GeneratorConfig {
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            hot_auction_ratio: 2,
            hot_bidders_ratio: 4,
            hot_sellers_ratio: 4,
            active_people: 1000,
            in_flight_auctions: 100,
            avg_person_size: 200,
            avg_auction_size: 500,
            avg_bid_size: 100,
            inter_event_delay_us: 100.0,
            base_time: 1_700_000_000_000,
            seed: 0,
        }
    }

    #[test]
    fn proportions_and_ids_follow_nexmark() {
        let config = config();
        let events: Vec<Event> = (0..5000).map(|n| config.event(n)).collect();
        let people = events
            .iter()
            .filter(|e| matches!(e, Event::Person(_)))
            .count();
        let auctions = events
            .iter()
            .filter(|e| matches!(e, Event::Auction(_)))
            .count();
        assert_eq!((people, auctions), (100, 300));
        // Ids count up from 1000 in creation order.
        let person_ids: Vec<i64> = events
            .iter()
            .filter_map(|e| match e {
                Event::Person(p) => Some(p.id),
                _ => None,
            })
            .collect();
        assert_eq!(person_ids[..3], [1000, 1001, 1002]);
        // Event times advance by the inter-event delay.
        let Event::Auction(first) = &events[1] else {
            panic!("event 1 is an auction: {:?}", events[1])
        };
        assert_eq!(first.id, 1000);
        assert_eq!(first.date_time, config.timestamp_of(1));
        assert!(first.expires > first.date_time);
        for event in &events {
            if let Event::Bid(bid) = event {
                assert!(bid.auction >= 1000 && bid.bidder >= 1000, "{bid:?}");
                assert!((1..=100_000_000).contains(&bid.price), "{bid:?}");
                let extra = bid.extra.len() as i32;
                assert!((68 - 14..68 + 14).contains(&extra), "{bid:?}");
            }
        }
        // Half the bids go to the hot auctions, half to random ones.
        let hot_auctions = events
            .iter()
            .filter(|e| matches!(e, Event::Bid(b) if b.auction % 100 == 0))
            .count();
        assert!((2300..2800).contains(&hot_auctions), "{hot_auctions}");
        // Half the bids come from the four hot channels.
        let hot = events
            .iter()
            .filter(|e| matches!(e, Event::Bid(b) if HOT_CHANNELS.contains(&b.channel)))
            .count();
        assert!((2000..2600).contains(&hot), "{hot}");
    }

    #[test]
    fn an_event_is_the_same_whoever_makes_it_and_the_seed_changes_it() {
        let config = config();
        assert_eq!(config.event(4321), config.event(4321));
        let other = GeneratorConfig {
            seed: 7,
            ..config.clone()
        };
        assert_ne!(config.event(4321), other.event(4321));
        let Event::Bid(bid) = config.event(4321) else {
            panic!("event 4321 is a bid")
        };
        assert_eq!(bid.date_time, config.timestamp_of(4321));
        assert!(bid.url.starts_with("https://www.nexmark.com/"), "{bid:?}");
    }

    #[test]
    fn channel_ids_are_in_most_channel_urls() {
        let with_id = (0..1000)
            .filter(|&c| channel_url(c).contains("&channel_id="))
            .count();
        assert!((850..950).contains(&with_id), "{with_id}");
        assert_eq!(channel_url(1234), channel_url(1234));
        // Java's Math.abs(Integer.reverse(1234)).
        let url = channel_url(1234);
        assert!(
            url.ends_with("&channel_id=1260388352") || !url.contains('&'),
            "{url}"
        );
    }
}
