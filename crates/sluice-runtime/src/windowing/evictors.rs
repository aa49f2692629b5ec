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

/// Keeps at most `max_count` elements: the most recent ones.
#[derive(Debug, Clone, Copy)]
pub struct CountEvictor {
    max_count: usize,
    after: bool,
}

impl CountEvictor {
    /// Evicts before the window function, keeping `max_count` elements.
    pub fn of(max_count: usize) -> Self {
        CountEvictor {
            max_count,
            after: false,
        }
    }

    /// Evicts after the window function instead.
    pub fn after_function(mut self) -> Self {
        self.after = true;
        self
    }

    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        if elements.len() > self.max_count {
            let excess = elements.len() - self.max_count;
            elements.drain(..excess);
        }
    }
}

impl<T, W> Evictor<T, W> for CountEvictor {
    fn evict_before(&self, elements: &mut Vec<Record<T>>, _: &W) {
        if !self.after {
            self.evict(elements);
        }
    }

    fn evict_after(&self, elements: &mut Vec<Record<T>>, _: &W) {
        if self.after {
            self.evict(elements);
        }
    }
}

/// Keeps the elements within `window_size` of the newest element's timestamp.
#[derive(Debug, Clone, Copy)]
pub struct TimeEvictor {
    window_size: i64,
    after: bool,
}

impl TimeEvictor {
    /// Evicts before the window function elements older than newest − `window_size`.
    pub fn of(window_size: std::time::Duration) -> Self {
        TimeEvictor {
            window_size: window_size.as_millis() as i64,
            after: false,
        }
    }

    /// Evicts after the window function instead.
    pub fn after_function(mut self) -> Self {
        self.after = true;
        self
    }

    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        let Some(newest) = elements.iter().filter_map(|r| r.timestamp).max() else {
            return;
        };
        let cutoff = newest.wrapping_sub(self.window_size);
        elements.retain(|r| r.timestamp.is_none_or(|t| t > cutoff));
    }
}

impl<T, W> Evictor<T, W> for TimeEvictor {
    fn evict_before(&self, elements: &mut Vec<Record<T>>, _: &W) {
        if !self.after {
            self.evict(elements);
        }
    }

    fn evict_after(&self, elements: &mut Vec<Record<T>>, _: &W) {
        if self.after {
            self.evict(elements);
        }
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
