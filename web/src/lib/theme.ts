/**
 * Dark mode: follows the system's `prefers-color-scheme` until the user picks a theme, then the
 * pick, kept in localStorage (index.html applies it before the first paint, so a reload does
 * not flash the other theme).
 */
export type Theme = "light" | "dark";
const KEY = "raceway.theme";

export function storedTheme(): Theme | null {
  const value = localStorage.getItem(KEY);
  return value === "light" || value === "dark" ? value : null;
}

export function systemTheme(): Theme {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function currentTheme(): Theme {
  return storedTheme() ?? systemTheme();
}

export function applyTheme(theme: Theme): void {
  document.documentElement.classList.toggle("dark", theme === "dark");
}

export function chooseTheme(theme: Theme): void {
  localStorage.setItem(KEY, theme);
  applyTheme(theme);
}
