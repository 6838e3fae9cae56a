//! Which live replica owns which cluster: rendezvous (highest random weight) hashing with
//! bounded loads.
//!
//! Every replica computes the same answer from the same inputs (the cluster names and the
//! live members' identities), so no replica has to tell another. Each cluster ranks the
//! members by `SHA-256(member, cluster)`; clusters are placed in name order on the
//! best-ranked member that still has room, where room means at most `⌈clusters / members⌉`
//! clusters, and only `clusters mod members` members may hold that many. So the shares
//! differ by at most one, and a member joining or leaving moves about the clusters that must
//! move for that (a leaver's clusters, or a newcomer's share), not a reshuffle.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

fn weight(member: &str, cluster: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(member.as_bytes())
        .chain_update([0])
        .chain_update(cluster.as_bytes())
        .finalize()
        .into()
}

/// The owner of each of `clusters` among `members` (empty when there are no members).
pub fn assign<'m>(clusters: &[String], members: &'m [String]) -> BTreeMap<String, &'m str> {
    let mut owners = BTreeMap::new();
    if members.is_empty() {
        return owners;
    }
    let mut sorted: Vec<&String> = clusters.iter().collect();
    sorted.sort();
    sorted.dedup();
    let floor = sorted.len() / members.len();
    let mut extra = sorted.len() % members.len();
    let mut load = vec![0usize; members.len()];
    for cluster in sorted {
        let mut ranked: Vec<(usize, [u8; 32])> = members
            .iter()
            .enumerate()
            .map(|(i, m)| (i, weight(m, cluster)))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| members[a.0].cmp(&members[b.0])));
        let chosen = ranked
            .iter()
            .map(|(i, _)| *i)
            .find(|&i| load[i] < floor || (load[i] == floor && extra > 0));
        // The capacities add up to the cluster count, so a member with room always exists.
        let Some(i) = chosen else { continue };
        if load[i] == floor {
            extra -= 1;
        }
        load[i] += 1;
        owners.insert(cluster.clone(), members[i].as_str());
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    fn shares(owners: &BTreeMap<String, &str>, members: &[String]) -> Vec<usize> {
        members
            .iter()
            .map(|m| owners.values().filter(|o| **o == m.as_str()).count())
            .collect()
    }

    #[test]
    fn every_cluster_has_one_owner_and_shares_differ_by_at_most_one() {
        for clusters in [0, 1, 5, 12, 13, 100] {
            for members in 1..=7 {
                let clusters = names("cluster-", clusters);
                let members = names("replica-", members);
                let owners = assign(&clusters, &members);
                assert_eq!(owners.len(), clusters.len());
                let shares = shares(&owners, &members);
                let (min, max) = (shares.iter().min(), shares.iter().max());
                assert!(max.unwrap() - min.unwrap() <= 1, "{shares:?}");
            }
        }
        let three = names("r", 3);
        let twelve = assign(&names("c", 12), &three);
        assert_eq!(shares(&twelve, &three), [4, 4, 4]);
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_it_is_given_in() {
        let clusters = names("c", 20);
        let members = names("r", 4);
        let mut reversed_clusters = clusters.clone();
        reversed_clusters.reverse();
        let mut reversed_members = members.clone();
        reversed_members.reverse();
        assert_eq!(
            assign(&clusters, &members),
            assign(&reversed_clusters, &reversed_members)
        );
    }

    #[test]
    fn a_membership_change_moves_few_clusters() {
        let clusters = names("c", 100);
        let three = names("r", 3);
        let four = names("r", 4);
        let before = assign(&clusters, &three);
        let after = assign(&clusters, &four);
        let moved = clusters.iter().filter(|c| before[*c] != after[*c]).count();
        // The newcomer's share (25) must move; a reshuffle would move about 75.
        assert!((25..=40).contains(&moved), "moved {moved}");
        // A member leaving: its clusters move, and few others.
        let two = vec!["r0".to_owned(), "r1".to_owned()];
        let after = assign(&clusters, &two);
        let moved_others = clusters
            .iter()
            .filter(|c| before[*c] != "r2" && before[*c] != after[*c])
            .count();
        assert!(
            moved_others <= 10,
            "moved {moved_others} not owned by the leaver"
        );
    }
}
