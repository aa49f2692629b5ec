//! The watermark valve: combines the watermarks of a task's input channels into one.
//!
//! A task's watermark is the minimum over its active channels; idle channels do not hold it
//! back, a channel that ended counts as `Watermark::MAX`, and the output never moves back.

use sluice_core::Watermark;

#[derive(Debug, Clone, Copy)]
struct ChannelState {
    watermark: Watermark,
    active: bool,
}

/// What the valve lets through after an input event.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ValveOutput {
    /// A new combined watermark, if it advanced.
    pub watermark: Option<Watermark>,
    /// A new combined status (`false`: every channel idle), if it changed.
    pub status: Option<bool>,
}

/// Tracks per-channel watermarks and status.
#[derive(Debug)]
pub struct WatermarkValve {
    channels: Vec<ChannelState>,
    emitted: Watermark,
    active: bool,
}

impl WatermarkValve {
    /// A valve over `channels` input channels, all active, before any watermark.
    pub fn new(channels: usize) -> Self {
        WatermarkValve {
            channels: vec![
                ChannelState {
                    watermark: Watermark::MIN,
                    active: true,
                };
                channels
            ],
            emitted: Watermark::MIN,
            active: true,
        }
    }

    /// The last watermark the valve let through.
    pub fn current(&self) -> Watermark {
        self.emitted
    }

    /// Channel `channel` reported `watermark`.
    pub fn input_watermark(&mut self, channel: usize, watermark: Watermark) -> ValveOutput {
        let state = &mut self.channels[channel];
        state.watermark = state.watermark.max(watermark);
        if !state.active {
            state.active = true;
            return ValveOutput {
                status: self.update_status(),
                watermark: self.advance(),
            };
        }
        ValveOutput {
            watermark: self.advance(),
            status: None,
        }
    }

    /// Channel `channel` became idle (`false`) or active (`true`).
    pub fn input_status(&mut self, channel: usize, active: bool) -> ValveOutput {
        self.channels[channel].active = active;
        ValveOutput {
            watermark: self.advance(),
            status: self.update_status(),
        }
    }

    /// Channel `channel` ended: it no longer holds the watermark back.
    pub fn input_ended(&mut self, channel: usize) -> ValveOutput {
        self.input_watermark(channel, Watermark::MAX)
    }

    fn update_status(&mut self) -> Option<bool> {
        let active = self.channels.iter().any(|c| c.active);
        (active != self.active).then(|| {
            self.active = active;
            active
        })
    }

    fn advance(&mut self) -> Option<Watermark> {
        let min = self
            .channels
            .iter()
            .filter(|c| c.active)
            .map(|c| c.watermark)
            .min()?;
        (min > self.emitted).then(|| {
            self.emitted = min;
            min
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_channels_never_moves_back() {
        let mut valve = WatermarkValve::new(2);
        assert_eq!(valve.input_watermark(0, Watermark(10)).watermark, None);
        assert_eq!(
            valve.input_watermark(1, Watermark(5)).watermark,
            Some(Watermark(5))
        );
        assert_eq!(valve.input_watermark(1, Watermark(3)).watermark, None);
        assert_eq!(
            valve.input_watermark(1, Watermark(12)).watermark,
            Some(Watermark(10))
        );
        assert_eq!(valve.current(), Watermark(10));
    }

    #[test]
    fn idle_channels_do_not_hold_back() {
        let mut valve = WatermarkValve::new(2);
        valve.input_watermark(0, Watermark(10));
        let out = valve.input_status(1, false);
        assert_eq!(out.watermark, Some(Watermark(10)));
        assert_eq!(out.status, None);
        let out = valve.input_status(0, false);
        assert_eq!(out.status, Some(false));
        let out = valve.input_watermark(1, Watermark(20));
        assert_eq!(out.status, Some(true));
        assert_eq!(out.watermark, Some(Watermark(20)));
    }

    #[test]
    fn ended_channels_count_as_max() {
        let mut valve = WatermarkValve::new(2);
        valve.input_watermark(0, Watermark(7));
        assert_eq!(valve.input_ended(1).watermark, Some(Watermark(7)));
        assert_eq!(valve.input_ended(0).watermark, Some(Watermark::MAX));
    }
}
