import { useState } from "react";
import { Button } from "@/components/ui/button";
import { chooseTheme, currentTheme, type Theme } from "@/lib/theme";

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(currentTheme);
  const next = theme === "dark" ? "light" : "dark";
  return (
    <Button
      variant="outline"
      size="sm"
      data-testid="theme-toggle"
      aria-label={`Switch to ${next} mode`}
      onClick={() => {
        chooseTheme(next);
        setTheme(next);
      }}
    >
      {theme === "dark" ? "☀ Light" : "☾ Dark"}
    </Button>
  );
}
