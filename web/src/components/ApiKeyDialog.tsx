import { useEffect, useState } from "react";
import { UNAUTHORIZED_EVENT, setApiKey } from "@/api/auth";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";

/** Asks for an API key when the API answers 401; the key is stored and the page reloaded. */
export function ApiKeyDialog() {
  const [open, setOpen] = useState(false);
  const [key, setKey] = useState("");
  useEffect(() => {
    const show = () => setOpen(true);
    window.addEventListener(UNAUTHORIZED_EVENT, show);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, show);
  }, []);
  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogContent>
        <DialogTitle className="text-lg font-semibold">API key required</DialogTitle>
        <DialogDescription className="text-sm text-muted-foreground">
          This Raceway server asks for an API key (one of its <code>--api-key</code> values).
        </DialogDescription>
        <form
          className="flex gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            setApiKey(key.trim() || null);
            window.location.reload();
          }}
        >
          <Input autoFocus type="password" className="flex-1" value={key} onChange={(e) => setKey(e.target.value)} placeholder="API key" aria-label="API key" />
          <Button type="submit">Save</Button>
        </form>
      </DialogContent>
    </Dialog>
  );
}
