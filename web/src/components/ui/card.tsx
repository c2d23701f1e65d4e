import type * as React from "react";
import { withClass } from "@/lib/withClass";

export const Card = withClass("div", "rounded-lg border bg-card text-card-foreground shadow-sm", "Card");
export const CardHeader = withClass("div", "flex flex-col gap-1 p-4 pb-2", "CardHeader");
export const CardTitle = withClass("h3", "text-sm font-semibold leading-none", "CardTitle");
export const CardContent = withClass("div", "p-4 pt-2", "CardContent");

/** A card with a title over its content. */
export function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Card>
      <CardHeader><CardTitle>{title}</CardTitle></CardHeader>
      <CardContent>{children}</CardContent>
    </Card>
  );
}
