//! Records grouped per partition: the producers' way to send many keyed members as one record
//! per partition instead of one record per member.
//!
//! The rule: a member goes in the group of the partition its own key places it in
//! ([`partition_for`] with the topic's partition count), and a group is sent as records keyed by
//! its first member's key, which the partitioner places in that same partition. So every member
//! reaches the partition its key names, as if sent alone, and the members of one key keep their
//! order. The broker's cost is per record, which is what grouping saves. The partition count
//! must be the topic's own (from the bus's metadata): with another count a member would land
//! in another partition than its key's, and the consumer owning that key would miss it.

use std::collections::BTreeMap;

use crate::partition_for;

/// Members grouped by the partition of their keys, for a topic of `partitions` partitions.
pub struct PartitionGroups<T> {
    partitions: i32,
    /// Partition -> (its first member's key, its members in the order added).
    groups: BTreeMap<i32, (String, Vec<T>)>,
}

impl<T> PartitionGroups<T> {
    /// No members yet, for a topic of `partitions` partitions.
    pub fn new(partitions: i32) -> Self {
        PartitionGroups {
            partitions,
            groups: BTreeMap::new(),
        }
    }

    /// Adds `members`, all of `key`, after the members already in their partition's group.
    pub fn extend(&mut self, key: &str, members: impl IntoIterator<Item = T>) {
        let partition = partition_for(key.as_bytes(), self.partitions);
        let (_, group) = self
            .groups
            .entry(partition)
            .or_insert_with(|| (key.to_string(), Vec::new()));
        group.extend(members);
    }

    /// Adds one member of `key`.
    pub fn push(&mut self, key: &str, member: T) {
        self.extend(key, [member]);
    }

    /// The groups, in partition order: each with the key its records take and its members.
    pub fn into_groups(self) -> impl Iterator<Item = (String, Vec<T>)> {
        self.groups.into_values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_grouped_by_their_own_keys_partition_in_order() {
        let partitions = 4;
        let mut groups = PartitionGroups::new(partitions);
        let keys: Vec<String> = (0..40).map(|n| format!("key-{}", n % 10)).collect();
        for (n, key) in keys.iter().enumerate() {
            groups.push(key, (key.clone(), n));
        }
        let mut seen = 0;
        for (record_key, members) in groups.into_groups() {
            let partition = partition_for(record_key.as_bytes(), partitions);
            assert_eq!(record_key, members[0].0, "keyed by its first member");
            for (key, _) in &members {
                assert_eq!(partition_for(key.as_bytes(), partitions), partition);
            }
            let order: Vec<usize> = members.iter().map(|(_, n)| *n).collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
            seen += members.len();
        }
        assert_eq!(seen, keys.len());
    }
}
