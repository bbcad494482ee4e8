//! A sealed ballot together with the encodings of its ciphertexts.
//!
//! Encoding a Ristretto point costs a field inversion and decoding one a square root; a ballot
//! read from a member's request, checked, logged and looked up by tracker would otherwise
//! encode each of its points again at every step (its tracker hashes the encodings, its log
//! entry writes them). Decoding accepts only a point's one canonical encoding, so the bytes
//! read *are* the bytes the point encodes to: [`EncodedBallot`] keeps them and writes exactly
//! what [`SealedBallot`]'s own serialization writes (a test compares the two), without
//! encoding a point.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ballot::SealedBallot;

/// A sealed ballot and its ciphertexts' encodings (each 64 bytes: the random element, then the
/// blinded element), in order.
#[derive(Clone, Debug)]
pub struct EncodedBallot {
    ballot: SealedBallot,
    encodings: Vec<[u8; 64]>,
}

impl EncodedBallot {
    /// The sealed ballot.
    pub fn ballot(&self) -> &SealedBallot {
        &self.ballot
    }

    /// The ballot's tracker ([`super::ballot::tracker`]): SHA-256 of its ciphertexts'
    /// encodings, in order.
    pub fn tracker(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for e in &self.encodings {
            h.update(e);
        }
        h.finalize().into()
    }

    /// Reads a ballot from its JSON; the encodings are the ones read whenever they are the
    /// canonical base64url the library writes (and are encoded again otherwise).
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        let read = read_encodings(&value);
        let ballot: SealedBallot = serde_json::from_value(value)?;
        let encodings = match read {
            Some(e) if e.len() == ballot.len() => e,
            _ => encode(&ballot),
        };
        Ok(Self { ballot, encodings })
    }
}

impl From<SealedBallot> for EncodedBallot {
    fn from(ballot: SealedBallot) -> Self {
        let encodings = encode(&ballot);
        Self { ballot, encodings }
    }
}

impl std::ops::Deref for EncodedBallot {
    type Target = SealedBallot;
    fn deref(&self) -> &SealedBallot {
        &self.ballot
    }
}

/// Each ciphertext's encoding, computed.
fn encode(ballot: &SealedBallot) -> Vec<[u8; 64]> {
    ballot
        .choices_unchecked()
        .iter()
        .map(|c| {
            let mut out = [0_u8; 64];
            out.copy_from_slice(&c.to_bytes());
            out
        })
        .collect()
}

/// The ciphertexts' encodings as the JSON spells them, if every one is canonical base64url
/// without padding of exactly 32 bytes (the library, reading the same text, then decodes the
/// same bytes).
fn read_encodings(value: &Value) -> Option<Vec<[u8; 64]>> {
    let point = |text: &Value| -> Option<[u8; 32]> {
        let bytes = URL_SAFE_NO_PAD.decode(text.as_str()?).ok()?;
        bytes.try_into().ok()
    };
    value
        .get("choices")?
        .as_array()?
        .iter()
        .map(|c| {
            let mut out = [0_u8; 64];
            out[..32].copy_from_slice(&point(c.get("random_element")?)?);
            out[32..].copy_from_slice(&point(c.get("blinded_element")?)?);
            Some(out)
        })
        .collect()
}

/// The shape `SealedBallot` serializes to, written from the kept encodings.
#[derive(Serialize)]
struct Wire<'a, R: Serialize, S: Serialize> {
    choices: Vec<WireCiphertext>,
    range_proof: &'a R,
    sum_proof: &'a S,
}

#[derive(Serialize)]
struct WireCiphertext {
    random_element: String,
    blinded_element: String,
}

impl Serialize for EncodedBallot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return self.ballot.serialize(serializer);
        }
        let choices = self
            .encodings
            .iter()
            .map(|e| WireCiphertext {
                random_element: URL_SAFE_NO_PAD.encode(&e[..32]),
                blinded_element: URL_SAFE_NO_PAD.encode(&e[32..]),
            })
            .collect();
        Wire {
            choices,
            range_proof: self.ballot.range_proof(),
            sum_proof: self.ballot.sum_proof(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EncodedBallot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ElectionId;
    use crate::crypto::ballot::{Context, seal, tracker};

    fn some_ballot(choice: usize) -> SealedBallot {
        let mut rng = rand::rngs::OsRng;
        let key = elastic_elgamal::Keypair::<crate::crypto::Group>::generate(&mut rng);
        let election = ElectionId::parse("0192c7a0-0000-4000-8000-000000000001").unwrap();
        let context = Context {
            election: &election,
            local: "600",
        };
        seal(key.public(), context, 3, choice, &mut rng).expect("a valid choice")
    }

    #[test]
    fn it_writes_exactly_what_the_library_writes_and_hashes_to_the_same_tracker() {
        for choice in 0..3 {
            let ballot = some_ballot(choice);
            let library = serde_json::to_vec(&ballot).unwrap();
            let computed = EncodedBallot::from(ballot.clone());
            assert_eq!(serde_json::to_vec(&computed).unwrap(), library);
            let read: EncodedBallot = serde_json::from_slice(&library).unwrap();
            assert_eq!(serde_json::to_vec(&read).unwrap(), library);
            assert_eq!(read.tracker(), tracker(&ballot));
            assert_eq!(computed.tracker(), tracker(&ballot));
        }
    }

    #[test]
    fn a_ballot_whose_points_are_not_canonical_base64_is_written_canonically() {
        let ballot = some_ballot(1);
        let mut value = serde_json::to_value(&ballot).unwrap();
        // Padding the library may accept is not what it writes: the encodings are computed.
        let text = value["choices"][0]["random_element"]
            .as_str()
            .unwrap()
            .to_owned();
        value["choices"][0]["random_element"] = Value::from(format!("{text}="));
        if let Ok(read) = EncodedBallot::from_value(value) {
            assert_eq!(
                serde_json::to_vec(&read).unwrap(),
                serde_json::to_vec(&ballot).unwrap()
            );
            assert_eq!(read.tracker(), tracker(&ballot));
        }
    }
}
