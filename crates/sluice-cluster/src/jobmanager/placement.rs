//! Slot placement: where a job's parallel pipelines run.

/// Places `needed` pipelines on TaskManagers with free slots, spread over as many of them as
/// possible, consecutive pipelines together; takes the slots from `free`.
pub fn spread(needed: usize, free: &mut [(String, usize)]) -> Vec<(String, Vec<usize>)> {
    let mut counts = vec![0usize; free.len()];
    let mut placed = 0;
    while placed < needed {
        let mut progressed = false;
        for (index, (_, slots)) in free.iter_mut().enumerate() {
            if placed < needed && *slots > 0 {
                *slots -= 1;
                counts[index] += 1;
                placed += 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    let mut next = 0;
    free.iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .map(|((tm, _), count)| {
            let pipelines = (next..next + count).collect();
            next += count;
            (tm.clone(), pipelines)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_spread_over_task_managers_in_blocks() {
        let mut free = vec![("a".to_string(), 2), ("b".to_string(), 2)];
        assert_eq!(
            spread(4, &mut free),
            vec![("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2, 3])]
        );
        let mut free = vec![("a".to_string(), 2), ("b".to_string(), 2)];
        assert_eq!(
            spread(2, &mut free),
            vec![("a".to_string(), vec![0]), ("b".to_string(), vec![1])]
        );
        assert_eq!(free, vec![("a".to_string(), 1), ("b".to_string(), 1)]);
        let mut free = vec![("a".to_string(), 3), ("b".to_string(), 1)];
        assert_eq!(
            spread(3, &mut free),
            vec![("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2])]
        );
    }
}
