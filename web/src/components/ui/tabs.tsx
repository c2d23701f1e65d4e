import * as TabsPrimitive from "@radix-ui/react-tabs";
import { withClass } from "@/lib/withClass";

export const Tabs = TabsPrimitive.Root;

export const TabsList = withClass(
  TabsPrimitive.List,
  "inline-flex h-9 flex-wrap items-center rounded-lg bg-muted p-1 text-muted-foreground",
  "TabsList",
);

export const TabsTrigger = withClass(
  TabsPrimitive.Trigger,
  "inline-flex items-center rounded-md px-3 py-1 text-sm font-medium transition-all data-[state=active]:bg-background data-[state=active]:text-foreground data-[state=active]:shadow",
  "TabsTrigger",
);

export const TabsContent = withClass(TabsPrimitive.Content, "mt-3 focus-visible:outline-none", "TabsContent");
