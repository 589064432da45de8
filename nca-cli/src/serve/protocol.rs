//! What the page and the server say to each other over the WebSocket.
//!
//! The page sends JSON text messages ([`ClientMessage`]); the server answers with JSON text
//! ([`ServerMessage`]) and binary frames ([`encode_frame`]): the step as u32, width and height as
//! u16 (little endian), then RGBA bytes row by row.

use nca_core::Seed;
use serde::{Deserialize, Serialize};

/// Largest message the server reads from a page; anything longer closes that connection.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Most steps the page may ask for between two frames.
pub const MAX_STEPS_PER_FRAME: u32 = 64;

/// A request from the page.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Run the automaton.
    Play,
    /// Stop running it.
    Pause,
    /// Plant the seed again on an empty grid.
    Reset,
    /// The previous frame is drawn; send the next one (frames go only as fast as the page draws).
    Ack,
    /// Steps computed per frame sent.
    Speed {
        /// 1 to [`MAX_STEPS_PER_FRAME`].
        steps_per_frame: u32,
    },
    /// Rotate the perception (and so the pattern).
    Angle {
        /// Degrees.
        degrees: f64,
    },
    /// Probability that a cell updates in a step.
    FireRate {
        /// In (0, 1].
        value: f64,
    },
    /// Erase a disc; coordinates and radius are fractions of the grid's width and height.
    Erase {
        /// Centre, 0 (left) to 1 (right).
        x: f64,
        /// Centre, 0 (top) to 1 (bottom).
        y: f64,
        /// Radius as a fraction of the grid size.
        radius: f64,
    },
    /// Plant a seed cell at a point, fractions of the grid as for [`ClientMessage::Erase`];
    /// refused for a model seeded with zeros.
    Seed {
        /// 0 (left) to 1 (right).
        x: f64,
        /// 0 (top) to 1 (bottom).
        y: f64,
    },
    /// Switch to another of the served models.
    Model {
        /// Index in the list the server sent.
        index: usize,
    },
    /// Grow the running goal model towards another of its goals, from the cells as they are
    /// (the pattern turns into the other one in place); refused for a model without goals.
    Goal {
        /// Index in the running model's goals the server sent.
        index: usize,
    },
}

impl ClientMessage {
    /// Parses and checks a message; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(format!(
                "message of {} bytes is over the {MAX_MESSAGE_BYTES}-byte limit",
                text.len()
            ));
        }
        let message: Self =
            serde_json::from_str(text).map_err(|err| format!("malformed message: {err}"))?;
        message.check()?;
        Ok(message)
    }

    fn check(&self) -> Result<(), String> {
        let fraction = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} {v} is not between 0 and 1"))
            }
        };
        match *self {
            Self::Speed { steps_per_frame }
                if !(1..=MAX_STEPS_PER_FRAME).contains(&steps_per_frame) =>
            {
                Err(format!(
                    "steps_per_frame {steps_per_frame} is not between 1 and {MAX_STEPS_PER_FRAME}"
                ))
            }
            Self::Angle { degrees } if !degrees.is_finite() => {
                Err(format!("angle {degrees} is not a number"))
            }
            Self::FireRate { value } if !(value > 0.0 && value <= 1.0) => {
                Err(format!("fire rate {value} is not in (0, 1]"))
            }
            Self::Erase { x, y, radius } => fraction("x", x)
                .and(fraction("y", y))
                .and(fraction("radius", radius)),
            Self::Seed { x, y } => fraction("x", x).and(fraction("y", y)),
            _ => Ok(()),
        }
    }
}

/// News from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Sent first: the models on offer and the grid.
    Hello {
        /// Names of the served models.
        models: Vec<String>,
        /// Index of the running one.
        current: usize,
        /// Grid size in cells.
        size: usize,
        /// The running model's fire rate.
        fire_rate: f64,
        /// The running model's start: `"cell"` (a seed cell, which [`ClientMessage::Seed`]
        /// plants) or `"zeros"` (a texture: erasing is resetting, and there is no seed cell).
        seed: Seed,
        /// The running model's goals (names such as `"🦎"`), which [`ClientMessage::Goal`]
        /// picks from; empty for a model without goals.
        goals: Vec<String>,
        /// Index of the goal it grows towards (0 for a model without goals).
        goal: usize,
    },
    /// Sent about once a second.
    Status {
        /// Steps since the last reset.
        step: u64,
        /// Steps computed per second recently.
        steps_per_second: f64,
        /// Whether the automaton runs.
        playing: bool,
    },
    /// A request was refused; the page shows it.
    Refused {
        /// Why.
        reason: String,
    },
}

/// A binary frame: step, width, height, then RGBA bytes.
pub fn encode_frame(step: u64, width: usize, height: usize, rgba: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + rgba.len());
    frame.extend_from_slice(&(step.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    frame.extend_from_slice(&(width as u16).to_le_bytes());
    frame.extend_from_slice(&(height as u16).to_le_bytes());
    frame.extend_from_slice(rgba);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_from_the_pages_json() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"play"}"#),
            Ok(ClientMessage::Play)
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"erase","x":0.5,"y":0.25,"radius":0.1}"#),
            Ok(ClientMessage::Erase {
                x: 0.5,
                y: 0.25,
                radius: 0.1
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"speed","steps_per_frame":8}"#),
            Ok(ClientMessage::Speed { steps_per_frame: 8 })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"goal","index":1}"#),
            Ok(ClientMessage::Goal { index: 1 })
        );
    }

    #[test]
    fn malformed_and_out_of_range_messages_are_refused_with_a_reason() {
        let cases = [
            ("not json", "malformed message"),
            (r#"{"type":"explode"}"#, "unknown variant `explode`"),
            (r#"{"type":"erase","x":0.5}"#, "missing field `y`"),
            (
                r#"{"type":"erase","x":2,"y":0.5,"radius":0.1}"#,
                "x 2 is not between 0 and 1",
            ),
            (
                r#"{"type":"speed","steps_per_frame":0}"#,
                "steps_per_frame 0 is not between 1 and 64",
            ),
            (
                r#"{"type":"fire_rate","value":0}"#,
                "fire rate 0 is not in (0, 1]",
            ),
            (r#"{"type":"goal","index":-1}"#, "invalid value"),
        ];
        for (text, reason) in cases {
            let err = ClientMessage::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
        let huge = format!(
            r#"{{"type":"play","pad":"{}"}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        assert!(
            ClientMessage::parse(&huge)
                .unwrap_err()
                .contains("over the 4096-byte limit")
        );
    }

    #[test]
    fn frames_carry_step_size_and_pixels() {
        let frame = encode_frame(300, 2, 1, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&frame[..4], &300u32.to_le_bytes());
        assert_eq!(&frame[4..8], &[2, 0, 1, 0]);
        assert_eq!(&frame[8..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn server_messages_are_tagged_json() {
        let text = serde_json::to_string(&ServerMessage::Status {
            step: 3,
            steps_per_second: 2.5,
            playing: true,
        })
        .unwrap();
        assert_eq!(
            text,
            r#"{"type":"status","step":3,"steps_per_second":2.5,"playing":true}"#
        );
    }
}
