//! Packing encoded members into records under a size bound: the rule shared by the batch
//! records of the race inputs (`raceway.RaceInputBatch`) and of the notices.
//!
//! Members are taken in order, and a record takes members until the next would pass the bound,
//! so each record is as full as the bound allows and the order survives the split (a reader
//! sees one trace's members in the order written). A member larger than the bound on its own is
//! a record of its own rather than an error: the broker, not this code, decides whether a record
//! is too large, and the rest of the batch still goes.

/// `members` in order, in groups whose `size`s plus `overhead` (what a record adds to its
/// members) stay within `max_bytes`, except a member too large for that alone, which is a group
/// of its own. No members, no group.
pub(crate) fn pack_under<T>(
    members: impl IntoIterator<Item = T>,
    overhead: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut groups = Vec::new();
    let mut group: Vec<T> = Vec::new();
    let mut bytes = overhead;
    for member in members {
        let member_bytes = size(&member);
        if !group.is_empty() && bytes + member_bytes > max_bytes {
            groups.push(std::mem::take(&mut group));
            bytes = overhead;
        }
        bytes += member_bytes;
        group.push(member);
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::pack_under;

    #[test]
    fn groups_fill_up_to_the_bound_in_order_and_an_oversized_member_stands_alone() {
        let sizes = [3, 4, 2, 9, 1, 1, 5];
        let groups = pack_under(sizes, 1, 8, |n| *n);
        assert_eq!(groups, [vec![3, 4], vec![2], vec![9], vec![1, 1, 5]]);
        assert!(pack_under(Vec::<usize>::new(), 1, 8, |n| *n).is_empty());
    }
}
