//! The dependency graph of a declared stack (petgraph). Pure.

use std::collections::HashMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::model::{Stack, Urn};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("dependency cycle: {}", .0.iter().map(Urn::as_str).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<Urn>),
}

/// Edges point from a dependency to its dependent.
pub struct Graph {
    pub graph: DiGraph<usize, ()>,
    /// Node of each declared resource, by its index in `Stack::resources()`.
    pub nodes: Vec<NodeIndex>,
    /// Resource indices in dependency order.
    pub order: Vec<usize>,
}

impl Graph {
    pub fn build(stack: &Stack) -> Result<Graph, GraphError> {
        let res = stack.resources();
        let index: HashMap<&Urn, usize> =
            res.iter().enumerate().map(|(i, d)| (&d.urn, i)).collect();
        let mut graph = DiGraph::with_capacity(res.len(), res.len() * 2);
        let nodes: Vec<NodeIndex> = (0..res.len()).map(|i| graph.add_node(i)).collect();
        for i in 0..res.len() {
            for dep in stack.dependencies_of(i) {
                if let Some(&j) = index.get(dep) {
                    graph.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
        let order = match petgraph::algo::toposort(&graph, None) {
            Ok(o) => o.into_iter().map(|n| graph[n]).collect(),
            Err(_) => return Err(GraphError::Cycle(find_cycle(&graph, stack))),
        };
        Ok(Graph {
            graph,
            nodes,
            order,
        })
    }

    /// Indices of the resources that `i` depends on directly.
    pub fn dependencies(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(self.nodes[i], Direction::Incoming)
            .map(|n| self.graph[n])
    }

    /// Indices of the resources that depend on `i` directly.
    pub fn dependents(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(self.nodes[i], Direction::Outgoing)
            .map(|n| self.graph[n])
    }

    /// Graphviz rendering, one node per URN.
    pub fn to_dot(&self, stack: &Stack) -> String {
        let res = stack.resources();
        let mut out = String::from("digraph stack {\n  rankdir=LR;\n");
        for &i in &self.order {
            out.push_str(&format!("  \"{}\";\n", res[i].urn));
        }
        for e in self.graph.raw_edges() {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                res[self.graph[e.source()]].urn,
                res[self.graph[e.target()]].urn
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// A cycle path (first node repeated at the end) from a graph known to have one.
fn find_cycle(graph: &DiGraph<usize, ()>, stack: &Stack) -> Vec<Urn> {
    let res = stack.resources();
    for scc in tarjan_scc(graph) {
        let start = scc[0];
        let self_loop = graph.contains_edge(start, start);
        if scc.len() == 1 && !self_loop {
            continue;
        }
        if self_loop {
            let u = res[graph[start]].urn.clone();
            return vec![u.clone(), u];
        }
        // Walk inside the component until a node repeats: that stretch is a cycle.
        let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let mut path = vec![start];
        let mut seen: HashMap<NodeIndex, usize> = HashMap::from([(start, 0)]);
        let mut cur = start;
        loop {
            let next = graph
                .neighbors_directed(cur, Direction::Outgoing)
                .find(|n| members.contains(n))
                .expect("a strongly connected component has an edge inside it");
            if let Some(&pos) = seen.get(&next) {
                let mut cyc: Vec<Urn> = path[pos..]
                    .iter()
                    .map(|&n| res[graph[n]].urn.clone())
                    .collect();
                cyc.push(res[graph[next]].urn.clone());
                return cyc;
            }
            seen.insert(next, path.len());
            path.push(next);
            cur = next;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Declared, ResourceOptions};
    use serde_json::json;

    fn decl(stack: &str, name: &str, deps: &[&str]) -> Declared {
        let urn = Urn::new(stack, "", "t:x/T", name);
        let opts = ResourceOptions {
            depends_on: deps
                .iter()
                .map(|d| Urn::new(stack, "", "t:x/T", d))
                .collect(),
            ..Default::default()
        };
        Declared {
            urn,
            type_name: "t:x/T".into(),
            inputs: json!({}),
            options: opts,
            parent: String::new(),
        }
    }

    #[test]
    fn order_respects_dependencies() {
        let mut s = Stack::new("s").unwrap();
        s.push(decl("s", "c", &["b"])).unwrap();
        s.push(decl("s", "b", &["a"])).unwrap();
        s.push(decl("s", "a", &[])).unwrap();
        let g = Graph::build(&s).unwrap();
        let names: Vec<&str> = g
            .order
            .iter()
            .map(|&i| s.resources()[i].urn.name())
            .collect();
        assert_eq!(names, vec!["a", "b", "c"]);
        assert!(g
            .to_dot(&s)
            .contains("\"s::::t:x/T::a\" -> \"s::::t:x/T::b\""));
    }

    #[test]
    fn cycle_error_prints_the_path() {
        let mut s = Stack::new("s").unwrap();
        s.push(decl("s", "a", &["c"])).unwrap();
        s.push(decl("s", "b", &["a"])).unwrap();
        s.push(decl("s", "c", &["b"])).unwrap();
        s.push(decl("s", "d", &[])).unwrap();
        let err = Graph::build(&s).err().unwrap();
        let GraphError::Cycle(path) = &err;
        assert_eq!(path.len(), 4);
        assert_eq!(path.first(), path.last());
        let msg = err.to_string();
        assert!(msg.starts_with("dependency cycle: s::::t:x/T::"), "{msg}");
        for n in ["::a", "::b", "::c"] {
            assert!(msg.contains(n), "{msg}");
        }
        assert!(!msg.contains("::d"));
    }
}
