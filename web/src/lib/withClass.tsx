import type { ComponentPropsWithoutRef, ElementType } from "react";
import { cn } from "./utils";

/** `Component` with `base` classes before any the caller adds (shadcn's styled wrappers). */
export function withClass<C extends ElementType>(Component: C, base: string, name: string) {
  function Styled({ className, ...props }: ComponentPropsWithoutRef<C> & { className?: string }) {
    const Inner = Component as ElementType;
    return <Inner className={cn(base, className)} {...props} />;
  }
  Styled.displayName = name;
  return Styled;
}
