import { NavLink, Outlet } from "react-router-dom";
import { cn } from "@/lib/utils";
import { ApiKeyDialog } from "./ApiKeyDialog";
import { ThemeToggle } from "./ThemeToggle";

const LINKS = [
  ["/", "Traces"],
  ["/dashboard", "Dashboard"],
  ["/races", "Races"],
  ["/variables", "Variables"],
  ["/services", "Services"],
  ["/live", "Live"],
] as const;

export function Layout() {
  return (
    <div className="min-h-screen">
      <header className="sticky top-0 z-30 border-b bg-background/95 backdrop-blur">
        <div className="mx-auto flex max-w-7xl items-center gap-6 px-4 py-2">
          <span className="mono text-base font-semibold">raceway</span>
          <nav className="flex flex-1 flex-wrap gap-1 text-sm">
            {LINKS.map(([to, label]) => (
              <NavLink
                key={to}
                to={to}
                end={to === "/"}
                className={({ isActive }) =>
                  cn("rounded-md px-3 py-1.5 hover:bg-muted", isActive && "bg-muted font-semibold")
                }
              >
                {label}
              </NavLink>
            ))}
          </nav>
          <ThemeToggle />
        </div>
      </header>
      <main className="mx-auto max-w-7xl px-4 py-4">
        <Outlet />
      </main>
      <ApiKeyDialog />
    </div>
  );
}
