/** Options of the `overlayfs-native` backend (validated by the host before `create` runs). */
import { z } from '../../core/sdk.js';
import { overlayMountOptionProblem } from '../../core/sdk-overlay.js';

/** One extra overlay mount option, e.g. `volatile` or `metacopy=on`. */
const mountOption = z.string().superRefine((option, ctx) => {
  const problem = overlayMountOptionProblem(option);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const overlayfsNativeOptions = z
  .object({
    /**
     * Leave a removed snapshot's directory for containerd's next garbage collection
     * (`cleanup`) instead of deleting it inside `remove` (containerd's default). Default true.
     */
    asyncRemove: z.boolean().default(true),
    /**
     * Extra options of every overlay mount (containerd's `mount_options`), one per element.
     * `lowerdir`, `upperdir` and `workdir` are set by snaphost; `index=off` is added unless
     * `index` is given here.
     */
    mountOptions: z.array(mountOption).default([]),
    /** Add `containerd.io/snapshot/overlay.upperdir` to every snapshot's labels. Default false. */
    upperdirLabel: z.boolean().default(false),
  })
  .strict();

export type OverlayfsNativeOptions = z.output<typeof overlayfsNativeOptions>;
