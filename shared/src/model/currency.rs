//! Which prices Stripe will charge: the currency must be one Stripe presents, and an amount must
//! sit between Stripe's minimum and maximum for it, in the currency's own minor units. Checked when
//! a drop is created, so a bad price is a `400` to the shop, never a `502` at a shopper's checkout.
//!
//! Sources (docs.stripe.com/currencies): the presentment currencies of a US account, the
//! zero-decimal list, the minimum charge table, and the amount limits. Stripe's card limit is 12
//! digits, but most other methods stop at 8 digits, so Burst holds every amount to 8 digits
//! (99,999,999 minor units) — a price Checkout accepts whatever method the shopper picks.

/// Stripe's presentment currencies (lower case, as Stripe spells them).
const SUPPORTED: [&str; 134] = [
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd",
    "bdt", "bgn", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf",
    "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg",
    "huf", "idr", "ils", "inr", "isk", "jmd", "jpy", "kes", "kgs", "khr", "kmf", "krw", "kyd",
    "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop",
    "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr", "nzd", "pab",
    "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub", "rwf", "sar", "sbd",
    "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb", "tjs", "top", "try",
    "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs", "vnd", "vuv", "wst", "xaf", "xcd", "xof",
    "xpf", "yer", "zar", "zmw",
];

/// Amounts in whole units: 500 JPY is `500`.
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Sent as two-decimal amounts but charged in whole units: the amount must be a multiple of 100.
const WHOLE_UNITS_IN_CENTS: [&str; 2] = ["isk", "ugx"];

/// Stripe's minimum charge per currency, in minor units. Currencies not listed have no published
/// minimum of their own (Stripe converts to the settlement currency); one minor unit is accepted.
const MINIMUMS: [(&str, i64); 31] = [
    ("usd", 50),
    ("aed", 200),
    ("ars", 50),
    ("aud", 50),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("cop", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("idr", 50),
    ("ils", 50),
    ("inr", 50),
    ("jpy", 50),
    ("krw", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("php", 50),
    ("pln", 200),
    ("ron", 200),
    ("rub", 50),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
    ("zar", 50),
];

/// Eight digits: the largest amount every Stripe payment method accepts.
pub const MAX_AMOUNT: i64 = 99_999_999;

/// Why Stripe would refuse a price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceProblem {
    UnsupportedCurrency,
    TooSmall { minimum: i64 },
    TooLarge { maximum: i64 },
    NotWholeUnits,
}

impl PriceProblem {
    pub fn message(&self, currency: &str) -> String {
        match self {
            Self::UnsupportedCurrency => {
                format!("{currency} is not a currency Stripe can charge")
            }
            Self::TooSmall { minimum } => {
                format!("Stripe's minimum charge in {currency} is {minimum} (minor units)")
            }
            Self::TooLarge { maximum } => format!(
                "Stripe charges at most {maximum} {currency} minor units at once (price × per_user_limit)"
            ),
            Self::NotWholeUnits => format!(
                "{currency} is charged in whole units: the amount must be a multiple of 100"
            ),
        }
    }
}

pub fn is_supported(currency: &str) -> bool {
    SUPPORTED.contains(&currency.to_ascii_lowercase().as_str())
}

pub fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency.to_ascii_lowercase().as_str())
}

/// Checks a unit price for a drop whose shoppers buy up to `max_quantity` units at once.
pub fn check_price(currency: &str, amount: i64, max_quantity: u32) -> Result<(), PriceProblem> {
    let code = currency.to_ascii_lowercase();
    if !SUPPORTED.contains(&code.as_str()) {
        return Err(PriceProblem::UnsupportedCurrency);
    }
    let minimum = MINIMUMS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(1, |(_, min)| *min);
    if amount < minimum {
        return Err(PriceProblem::TooSmall { minimum });
    }
    if amount.saturating_mul(i64::from(max_quantity)) > MAX_AMOUNT {
        return Err(PriceProblem::TooLarge {
            maximum: MAX_AMOUNT,
        });
    }
    if WHOLE_UNITS_IN_CENTS.contains(&code.as_str()) && amount % 100 != 0 {
        return Err(PriceProblem::NotWholeUnits);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_stripe_would_refuse_are_named() {
        assert_eq!(check_price("EUR", 50, 1), Ok(()));
        assert_eq!(
            check_price("eur", 49, 1),
            Err(PriceProblem::TooSmall { minimum: 50 })
        );
        assert_eq!(check_price("JPY", 50, 1), Ok(()));
        assert_eq!(
            check_price("HUF", 17_499, 1),
            Err(PriceProblem::TooSmall { minimum: 17_500 })
        );
        assert_eq!(
            check_price("XXX", 1_000, 1),
            Err(PriceProblem::UnsupportedCurrency)
        );
        assert_eq!(check_price("USD", 50_000_000, 1), Ok(()));
        assert_eq!(
            check_price("USD", 50_000_000, 2),
            Err(PriceProblem::TooLarge {
                maximum: MAX_AMOUNT
            })
        );
        assert_eq!(check_price("ISK", 550, 1), Err(PriceProblem::NotWholeUnits));
        assert_eq!(check_price("ISK", 500, 1), Ok(()));
        assert!(is_zero_decimal("jpy") && !is_zero_decimal("EUR"));
    }
}
