//! The password policy, applied identically by the server, the browser forms and the
//! desktop app.
//!
//! A [`Password`] value exists only if it passed every rule, so code that holds one
//! never has to ask again. Checking returns *every* failed rule at once because a form
//! that reveals one rule per submit is the fastest way to make people hate it.
//!
//! Composition rules (upper, lower, digit, special) are what the original design
//! promised its users; the strength estimate (zxcvbn) is what actually stops
//! `Password123!`, which satisfies all of them.

use secrecy::{ExposeSecret, SecretString};

use crate::api::FailedRule;
use crate::email::EmailAddress;

/// Fewest characters accepted (NIST SP 800-63B asks for 8; we ask for more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters accepted: long enough for any passphrase, short enough that hashing
/// and strength estimation stay cheap for hostile input.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Lowest zxcvbn score accepted (3 = "safely unguessable: moderate protection from
/// offline slow-hash scenario").
const MIN_STRENGTH: zxcvbn::Score = zxcvbn::Score::Three;

/// One rule of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordRule {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    TooLong,
    /// No upper-case letter.
    NoUppercase,
    /// No lower-case letter.
    NoLowercase,
    /// No digit.
    NoDigit,
    /// No character that is neither a letter nor a digit.
    NoSpecial,
    /// The password is, or contains, the email address.
    ContainsEmail,
    /// Easy to guess: a common password, a keyboard pattern, a word with substitutions.
    TooCommon,
}

impl PasswordRule {
    /// Every rule, in the order they are checked and listed.
    pub const ALL: [Self; 8] = [
        Self::TooShort,
        Self::TooLong,
        Self::NoUppercase,
        Self::NoLowercase,
        Self::NoDigit,
        Self::NoSpecial,
        Self::ContainsEmail,
        Self::TooCommon,
    ];

    /// Stable name for clients.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::NoUppercase => "no_uppercase",
            Self::NoLowercase => "no_lowercase",
            Self::NoDigit => "no_digit",
            Self::NoSpecial => "no_special",
            Self::ContainsEmail => "contains_email",
            Self::TooCommon => "too_common",
        }
    }

    /// The sentence shown to the user.
    pub fn message(self) -> String {
        match self {
            Self::TooShort => format!("Use at least {MIN_PASSWORD_CHARS} characters."),
            Self::TooLong => format!("Use at most {MAX_PASSWORD_CHARS} characters."),
            Self::NoUppercase => "Add an upper-case letter.".into(),
            Self::NoLowercase => "Add a lower-case letter.".into(),
            Self::NoDigit => "Add a digit.".into(),
            Self::NoSpecial => "Add a symbol such as ! or #.".into(),
            Self::ContainsEmail => "Do not use your email address in your password.".into(),
            Self::TooCommon => {
                "This password is too easy to guess; try a few unrelated words.".into()
            }
        }
    }

    /// As sent in a `weak_password` error.
    pub fn to_failed_rule(self) -> FailedRule {
        FailedRule {
            rule: self.code().into(),
            message: self.message(),
        }
    }
}

/// The password was refused; `failed` lists every rule it broke, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The password does not meet the policy: {}.", self.codes().join(", "))]
pub struct WeakPassword {
    /// The rules broken, never empty.
    pub failed: Vec<PasswordRule>,
}

impl WeakPassword {
    fn codes(&self) -> Vec<&'static str> {
        self.failed.iter().map(|r| r.code()).collect()
    }

    /// The rules as they go on the wire.
    pub fn failed_rules(&self) -> Vec<FailedRule> {
        self.failed.iter().map(|r| r.to_failed_rule()).collect()
    }
}

/// A password that passed the policy. Zeroised on drop; `Debug` never prints it.
#[derive(Debug)]
pub struct Password(SecretString);

impl Password {
    /// Checks `candidate` for the account `email`.
    pub fn parse(candidate: &str, email: &EmailAddress) -> Result<Self, WeakPassword> {
        let failed = failed_rules(candidate, email);
        if failed.is_empty() {
            Ok(Self(SecretString::from(candidate)))
        } else {
            Err(WeakPassword { failed })
        }
    }

    /// The password itself, for hashing. The name is meant to make reviewers look.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Every rule `candidate` breaks, in declaration order of [`PasswordRule`].
pub fn failed_rules(candidate: &str, email: &EmailAddress) -> Vec<PasswordRule> {
    let chars = candidate.chars().count();
    let mut failed = Vec::new();
    let mut check = |broken: bool, rule| {
        if broken {
            failed.push(rule);
        }
    };
    check(chars < MIN_PASSWORD_CHARS, PasswordRule::TooShort);
    check(chars > MAX_PASSWORD_CHARS, PasswordRule::TooLong);
    check(
        !candidate.chars().any(char::is_uppercase),
        PasswordRule::NoUppercase,
    );
    check(
        !candidate.chars().any(char::is_lowercase),
        PasswordRule::NoLowercase,
    );
    check(
        !candidate.chars().any(|c| c.is_ascii_digit()),
        PasswordRule::NoDigit,
    );
    check(
        !candidate
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
        PasswordRule::NoSpecial,
    );
    check(
        contains_email(candidate, email),
        PasswordRule::ContainsEmail,
    );
    // The estimator's cost grows with length; past the maximum the password is refused
    // anyway, so hostile megabyte passwords never reach it.
    if chars <= MAX_PASSWORD_CHARS && !candidate.is_empty() {
        let inputs = [email.as_str(), email.local_part()];
        check(
            zxcvbn::zxcvbn(candidate, &inputs).score() < MIN_STRENGTH,
            PasswordRule::TooCommon,
        );
    } else if candidate.is_empty() {
        check(true, PasswordRule::TooCommon);
    }
    failed
}

/// Every rule `candidate` breaks for a live checklist, where the address may still be
/// half-typed: until `email` parses, every rule but the one about the address is
/// checked (against a placeholder whose local part is too short to count and whose
/// whole no password contains).
pub fn live_check(candidate: &str, email: &str) -> Vec<PasswordRule> {
    let email = EmailAddress::parse(email)
        .or_else(|_| EmailAddress::parse("x@example.invalid"))
        .expect("the placeholder address is valid");
    failed_rules(candidate, &email)
}

/// Whether the password is the address or embeds it (or its local part, when that is
/// long enough to be the meat of the password).
fn contains_email(candidate: &str, email: &EmailAddress) -> bool {
    let lowered = candidate.to_lowercase();
    let local = email.local_part();
    lowered.contains(email.as_str()) || (local.chars().count() >= 4 && lowered.contains(local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PasswordRule::*;

    fn email() -> EmailAddress {
        EmailAddress::parse("alice.smith@example.com").unwrap()
    }

    fn rules(candidate: &str) -> Vec<PasswordRule> {
        failed_rules(candidate, &email())
    }

    #[test]
    fn accepts_a_strong_passphrase() {
        let p = Password::parse("Correct-Horse-7-Battery-Staple", &email()).unwrap();
        assert_eq!(p.expose_secret(), "Correct-Horse-7-Battery-Staple");
    }

    #[test]
    fn refuses_password123_despite_meeting_composition_rules() {
        assert_eq!(rules("Password123!"), vec![TooCommon]);
    }

    #[test]
    fn each_composition_rule_is_reported() {
        assert!(rules("Sh0rt!x").contains(&TooShort));
        assert!(rules("all-lower-case-words-9").contains(&NoUppercase));
        assert!(rules("ALL-UPPER-CASE-WORDS-9").contains(&NoLowercase));
        assert!(rules("No-Digits-In-This-Phrase").contains(&NoDigit));
        assert!(rules("NoSymbolsInThisPhrase42").contains(&NoSpecial));
        assert!(rules(&format!("Aa1!{}", "x".repeat(130))).contains(&TooLong));
    }

    #[test]
    fn every_failed_rule_is_reported_at_once() {
        assert_eq!(
            rules("abc"),
            vec![TooShort, NoUppercase, NoDigit, NoSpecial, TooCommon]
        );
    }

    #[test]
    fn refuses_the_email_address_and_its_local_part() {
        assert!(rules("Alice.Smith@example.com1").contains(&ContainsEmail));
        assert!(rules("xX-alice.smith-Xx-99").contains(&ContainsEmail));
    }

    #[test]
    fn empty_password_fails_every_applicable_rule() {
        assert_eq!(
            rules(""),
            vec![
                TooShort,
                NoUppercase,
                NoLowercase,
                NoDigit,
                NoSpecial,
                TooCommon
            ]
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        // 11 characters but 22+ bytes: still too short.
        assert!(rules("Ää1!Ää1!Ää1").contains(&TooShort));
        // Non-ASCII letters count as upper/lower case.
        assert!(!rules("Ünïcödé-Pässwörd-9-Long").contains(&NoUppercase));
    }

    #[test]
    fn huge_input_is_refused_without_estimating_strength() {
        let huge = "Aa1!".repeat(250_000);
        assert_eq!(rules(&huge), vec![TooLong]);
    }

    #[test]
    fn debug_does_not_print_the_password() {
        let p = Password::parse("Correct-Horse-7-Battery-Staple", &email()).unwrap();
        let shown = format!("{p:?}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
        assert!(!shown.contains("Horse"), "{shown}");
    }

    #[test]
    fn wire_rules_carry_codes_and_messages() {
        let err = Password::parse("abc", &email()).unwrap_err();
        let wire = err.failed_rules();
        assert_eq!(wire[0].rule, "too_short");
        assert!(wire[0].message.contains("12"));
        assert!(err.to_string().contains("too_short"));
    }
}
