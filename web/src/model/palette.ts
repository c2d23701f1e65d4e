/** Stable colours for names (services, threads): the same name gets the same colour everywhere. */
const COLORS = [
  "#3b82f6", "#10b981", "#a855f7", "#f59e0b", "#06b6d4", "#ec4899",
  "#84cc16", "#6366f1", "#14b8a6", "#f97316", "#8b5cf6", "#0ea5e9",
];

export const RACE_COLOR = "#ef4444";

export function colorFor(name: string): string {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0;
  return COLORS[Math.abs(hash) % COLORS.length];
}
