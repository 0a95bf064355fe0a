//! The step graph: duplicate ids, `needs` that name no step, cycles (named
//! step by step), topological order and ancestry.

use std::collections::{BTreeSet, HashMap};

use crate::decode::{Locations, index, join};
use crate::diagnostic::Diagnostics;
use crate::workflow::StepSpec;

/// The checked graph of a workflow's steps, by position in `spec.steps`.
#[derive(Debug, Clone)]
pub struct Dag {
    /// For each step, the steps it needs.
    pub needs: Vec<Vec<usize>>,
    /// Steps in an order where every step comes after all it needs.
    pub order: Vec<usize>,
}

/// Checks the graph and reports every problem; `None` when the graph is unusable.
pub fn check(steps: &[StepSpec], locs: &Locations, path: &str, problems: &mut Diagnostics) -> Option<Dag> {
    let before = problems.len();
    let ids = index_ids(steps, locs, path, problems);
    let needs = resolve_needs(steps, &ids, locs, path, problems);
    if problems.len() > before {
        return None;
    }
    match topological_order(&needs) {
        Ok(order) => Some(Dag { needs, order }),
        Err(cycle) => {
            report_cycle(steps, &cycle, locs, path, problems);
            None
        }
    }
}

fn step_path(path: &str, i: usize) -> String {
    index(&join(path, "steps"), i)
}

fn index_ids<'s>(
    steps: &'s [StepSpec],
    locs: &Locations,
    path: &str,
    problems: &mut Diagnostics,
) -> HashMap<&'s str, usize> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        if let Some(first) = ids.get(step.id.as_str()) {
            let id_path = join(&step_path(path, i), "id");
            let first_line = locs
                .get(&join(&step_path(path, *first), "id"))
                .map(|p| format!(" (line {})", p.line))
                .unwrap_or_default();
            problems.push(
                locs.get(&id_path),
                id_path,
                format!("duplicate step id `{}`: already used by spec.steps[{first}]{first_line}", step.id),
            );
        } else {
            ids.insert(&step.id, i);
        }
    }
    ids
}

fn resolve_needs(
    steps: &[StepSpec],
    ids: &HashMap<&str, usize>,
    locs: &Locations,
    path: &str,
    problems: &mut Diagnostics,
) -> Vec<Vec<usize>> {
    let mut known: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    known.dedup();
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let mut resolved = Vec::new();
            for (k, need) in step.needs.iter().enumerate() {
                let need_path = index(&join(&step_path(path, i), "needs"), k);
                match ids.get(need.as_str()) {
                    Some(&j) if j == i => {
                        problems.push(locs.get(&need_path), need_path, format!("step `{need}` needs itself"))
                    }
                    Some(&j) => resolved.push(j),
                    None => problems.push(
                        locs.get(&need_path).or(locs.get(&join(&step_path(path, i), "needs"))),
                        need_path,
                        format!("needs `{need}`, but no step has that id (steps: {})", known.join(", ")),
                    ),
                }
            }
            resolved.sort_unstable();
            resolved.dedup();
            resolved
        })
        .collect()
}

/// Kahn's algorithm in file order; on a cycle, returns one cycle's steps.
fn topological_order(needs: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = needs.len();
    let mut dependents = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = needs.iter().map(Vec::len).collect();
    for (i, list) in needs.iter().enumerate() {
        for &j in list {
            dependents[j].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() == n { Ok(order) } else { Err(find_cycle(needs, &waiting)) }
}

/// Walks `needs` from the first step left waiting until a step repeats.
fn find_cycle(needs: &[Vec<usize>], waiting: &[usize]) -> Vec<usize> {
    let stuck = |i: usize| waiting[i] > 0;
    let start = (0..needs.len()).find(|&i| stuck(i)).unwrap_or(0);
    let mut path = vec![start];
    let mut seen = HashMap::from([(start, 0usize)]);
    let mut current = start;
    loop {
        // A stuck step always needs at least one other stuck step.
        let Some(&next) = needs[current].iter().find(|&&j| stuck(j)) else {
            return path;
        };
        if let Some(&pos) = seen.get(&next) {
            return path[pos..].to_vec();
        }
        seen.insert(next, path.len());
        path.push(next);
        current = next;
    }
}

fn report_cycle(steps: &[StepSpec], cycle: &[usize], locs: &Locations, path: &str, problems: &mut Diagnostics) {
    // Start the cycle at the step that comes first in the file.
    let first = cycle.iter().enumerate().min_by_key(|(_, s)| **s).map_or(0, |(k, _)| k);
    let rotated: Vec<usize> = cycle[first..].iter().chain(&cycle[..first]).copied().collect();
    let mut names: Vec<&str> = rotated.iter().map(|&i| steps[i].id.as_str()).collect();
    names.push(names[0]);
    let head = rotated[0];
    let next = rotated.get(1).copied().unwrap_or(head);
    let k = steps[head].needs.iter().position(|n| *n == steps[next].id).unwrap_or(0);
    let need_path = index(&join(&step_path(path, head), "needs"), k);
    problems.push(
        locs.get(&need_path).or(locs.get(&join(&step_path(path, head), "needs"))),
        need_path,
        format!("`needs` forms a cycle: {} (each step needs the next)", names.join(" → ")),
    );
}

impl Dag {
    /// For every step, the set of steps it transitively needs.
    pub fn ancestors(&self) -> Vec<BTreeSet<usize>> {
        let mut out = vec![BTreeSet::new(); self.needs.len()];
        for &i in &self.order {
            let mut set = BTreeSet::new();
            for &j in &self.needs[i] {
                set.insert(j);
                set.extend(out[j].iter().copied());
            }
            out[i] = set;
        }
        out
    }
}
