import { useState } from 'react';
import Button from '@material-ui/core/Button';
import AddIcon from '@material-ui/icons/Add';
import { useAppNavigate } from '@backstage/frontend-plugin-api';
import type { Attachment } from '@spider/backstage-plugin-spider-common';
import { GuardedButton, useSpiderPaths } from '../common';
import { AttachDialog, AttachDialogInitial } from './AttachDialog';

/** A button that opens the attach dialog; after attaching, it opens the attachment. */
export function AttachButton(props: {
  initial?: AttachDialogInitial;
  label?: string;
  variant?: 'text' | 'outlined' | 'contained';
  allowed?: boolean;
  reason?: string;
  onAttached?: (a: Attachment) => void;
  /** Open the new attachment's page after attaching (default true). */
  navigateOnAttach?: boolean;
  size?: 'small' | 'medium';
}) {
  const [open, setOpen] = useState(false);
  const paths = useSpiderPaths();
  const navigate = useAppNavigate();
  const allowed = props.allowed ?? true;
  const button =
    allowed || !props.reason ? (
      <Button
        variant={props.variant ?? 'contained'}
        color="primary"
        startIcon={<AddIcon />}
        disabled={!allowed}
        size={props.size}
        onClick={() => setOpen(true)}
      >
        {props.label ?? 'Attach'}
      </Button>
    ) : (
      <GuardedButton
        allowed={false}
        reason={props.reason}
        variant={props.variant ?? 'contained'}
        color="primary"
        startIcon={<AddIcon />}
        size={props.size}
      >
        {props.label ?? 'Attach'}
      </GuardedButton>
    );
  return (
    <>
      {button}
      {open && (
        <AttachDialog
          open
          initial={props.initial}
          onClose={() => setOpen(false)}
          onAttached={a => {
            props.onAttached?.(a);
            const to = paths.attachment(a.id);
            if ((props.navigateOnAttach ?? true) && to) navigate(to);
          }}
        />
      )}
    </>
  );
}
