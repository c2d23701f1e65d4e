/**
 * The tree view's rows: the nested nodes flattened in display order, children shown only under
 * expanded nodes, each marked when it lies on the critical path.
 */
import type { TreeNode } from "@/api/types";

export interface TreeRow {
  node: TreeNode;
  depth: number;
  hasChildren: boolean;
  expanded: boolean;
  critical: boolean;
}

export function visibleRows(roots: TreeNode[], expanded: Set<string>, critical: Set<string>): TreeRow[] {
  const rows: TreeRow[] = [];
  // An explicit stack: parent links chain an actor's events, so trees can be very deep.
  const stack: [TreeNode, number][] = [...roots].reverse().map((n) => [n, 0]);
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [TreeNode, number];
    const open = expanded.has(node.id);
    rows.push({ node, depth, hasChildren: node.children.length > 0, expanded: open, critical: critical.has(node.id) });
    if (open) for (let i = node.children.length - 1; i >= 0; i--) stack.push([node.children[i], depth + 1]);
  }
  return rows;
}

/** The ids of every node with children (to expand all), up to `limit` of them. */
export function expandableIds(roots: TreeNode[], limit = 5000): Set<string> {
  const ids = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0 && ids.size < limit) {
    const node = stack.pop() as TreeNode;
    if (node.children.length > 0) {
      ids.add(node.id);
      stack.push(...node.children);
    }
  }
  return ids;
}
