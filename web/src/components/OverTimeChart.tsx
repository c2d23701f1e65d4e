import { bucketTitle, overTimeAxis, type Bucket } from "@/model/dashboard";

const BAR_HEIGHT_PX = 120;

function Swatch({ className, label }: { className: string; label: string }) {
  return (
    <span className="inline-flex items-center gap-1">
      <span className={`inline-block h-2.5 w-2.5 rounded-sm ${className}`} />
      {label}
    </span>
  );
}

/** Findings and anomalies per time bucket, stacked, with a legend and a UTC time axis. */
export function OverTimeChart({ buckets }: { buckets: Bucket[] }) {
  const axis = overTimeAxis(buckets);
  if (!axis) return <p className="text-sm text-muted-foreground">Nothing found yet.</p>;
  const peak = Math.max(1, ...buckets.map((b) => b.races + b.anomalies));
  return (
    <div className="space-y-1 text-xs text-muted-foreground">
      <div className="flex justify-between">
        <span className="flex gap-3">
          <Swatch className="bg-destructive" label="findings" />
          <Swatch className="bg-warning" label="anomalies" />
        </span>
        <span data-testid="over-time-peak">highest bar: {peak}</span>
      </div>
      <div className="flex items-end gap-1 border-b border-l border-border" style={{ height: BAR_HEIGHT_PX }} data-testid="over-time">
        {buckets.map((b) => (
          <div key={b.start} className="flex flex-1 flex-col justify-end" title={bucketTitle(b)}>
            <div className="bg-warning" style={{ height: `${(b.anomalies / peak) * BAR_HEIGHT_PX}px` }} />
            <div className="bg-destructive" style={{ height: `${(b.races / peak) * BAR_HEIGHT_PX}px` }} />
          </div>
        ))}
      </div>
      <div className="mono flex justify-between" data-testid="over-time-axis">
        <span>{axis.start}</span>
        <span>{axis.middle} UTC</span>
        <span>{axis.end}</span>
      </div>
    </div>
  );
}
