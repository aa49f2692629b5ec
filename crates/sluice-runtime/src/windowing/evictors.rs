//! Evictors: remove elements from a window before or after its function runs (Flink's
//! `CountEvictor` and `TimeEvictor`, and a trait for your own).

use sluice_core::Record;

/// Removes elements from a firing window's buffer.
pub trait Evictor<T, W>: Send + Sync {
    /// Called before the window function, on the buffered elements in arrival order.
    fn evict_before(&self, elements: &mut Vec<Record<T>>, window: &W);
    /// Called after the window function.
    fn evict_after(&self, elements: &mut Vec<Record<T>>, window: &W);
}

/// Which elements a built-in evictor removes.
pub trait EvictionRule: Send + Sync {
    /// Removes the elements the rule does not keep.
    fn evict<T>(&self, elements: &mut Vec<Record<T>>);
}

/// A built-in eviction rule, applied before the window function (the default) or after it.
#[derive(Debug, Clone, Copy)]
pub struct RuleEvictor<R> {
    rule: R,
    after: bool,
}

impl<R> RuleEvictor<R> {
    fn before_function(rule: R) -> Self {
        RuleEvictor { rule, after: false }
    }

    /// Evicts after the window function instead.
    pub fn after_function(mut self) -> Self {
        self.after = true;
        self
    }
}

impl<T, W, R: EvictionRule> Evictor<T, W> for RuleEvictor<R> {
    fn evict_before(&self, elements: &mut Vec<Record<T>>, _: &W) {
        if !self.after {
            self.rule.evict(elements);
        }
    }

    fn evict_after(&self, elements: &mut Vec<Record<T>>, _: &W) {
        if self.after {
            self.rule.evict(elements);
        }
    }
}

/// Keeps at most a number of elements: the most recent ones.
#[derive(Debug, Clone, Copy)]
pub struct KeepNewest(usize);

impl EvictionRule for KeepNewest {
    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        if elements.len() > self.0 {
            let excess = elements.len() - self.0;
            elements.drain(..excess);
        }
    }
}

/// Keeps the elements within a span (ms) of the newest element's timestamp.
#[derive(Debug, Clone, Copy)]
pub struct KeepRecent(i64);

impl EvictionRule for KeepRecent {
    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        let Some(newest) = elements.iter().filter_map(|r| r.timestamp).max() else {
            return;
        };
        let cutoff = newest.wrapping_sub(self.0);
        elements.retain(|r| r.timestamp.is_none_or(|t| t > cutoff));
    }
}

/// Keeps at most `max_count` elements: the most recent ones.
pub type CountEvictor = RuleEvictor<KeepNewest>;

impl CountEvictor {
    /// Evicts before the window function, keeping `max_count` elements.
    pub fn of(max_count: usize) -> Self {
        RuleEvictor::before_function(KeepNewest(max_count))
    }
}

/// Keeps the elements within `window_size` of the newest element's timestamp.
pub type TimeEvictor = RuleEvictor<KeepRecent>;

impl TimeEvictor {
    /// Evicts before the window function elements older than newest − `window_size`.
    pub fn of(window_size: std::time::Duration) -> Self {
        let span = i64::try_from(window_size.as_millis()).unwrap_or(i64::MAX);
        RuleEvictor::before_function(KeepRecent(span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_evictor_keeps_the_newest() {
        let mut elements: Vec<Record<i32>> = (1..=5).map(Record::new).collect();
        Evictor::<i32, ()>::evict_before(&CountEvictor::of(2), &mut elements, &());
        assert_eq!(elements, vec![Record::new(4), Record::new(5)]);
    }

    #[test]
    fn time_evictor_keeps_recent_elements() {
        let mut elements: Vec<Record<i32>> = [10, 30, 25, 41]
            .iter()
            .map(|t| Record::with_timestamp(*t as i32, *t))
            .collect();
        Evictor::<i32, ()>::evict_before(
            &TimeEvictor::of(std::time::Duration::from_millis(15)),
            &mut elements,
            &(),
        );
        let kept: Vec<i64> = elements.iter().filter_map(|r| r.timestamp).collect();
        assert_eq!(kept, vec![30, 41]);
    }
}
