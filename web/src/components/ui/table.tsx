import * as React from "react";
import { cn } from "@/lib/utils";
import { withClass } from "@/lib/withClass";

export function Table({ className, ...props }: React.TableHTMLAttributes<HTMLTableElement>) {
  return (
    <div className="w-full overflow-auto">
      <table className={cn("w-full caption-bottom text-sm", className)} {...props} />
    </div>
  );
}

export const Th = withClass("th", "h-9 px-2 text-left align-middle text-xs font-medium text-muted-foreground", "Th");
export const Td = withClass("td", "px-2 py-1.5 align-middle", "Td");
export const Tr = withClass("tr", "border-b transition-colors hover:bg-muted/50", "Tr");
