import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import GetAppIcon from '@material-ui/icons/GetApp';
import Paper from '@material-ui/core/Paper';
import { CopyTextButton } from '@backstage/core-components';

/** Saves a blob as a file from the browser (a download the page made, with its credentials). */
export function saveBlob(blob: Blob, fileName: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoked later: some browsers start reading the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadText(fileName: string, content: string) {
  saveBlob(new Blob([content], { type: 'text/plain;charset=utf-8' }), fileName);
}

/** A block of text with copy and (optionally) download buttons. */
export function CopyBlock(props: {
  text: string;
  language: string;
  fileName?: string;
  label: string;
}) {
  return (
    <Box aria-label={props.label} role="group">
      <Paper variant="outlined" style={{ position: 'relative' }}>
        <Box position="absolute" top={4} right={4}>
          <CopyTextButton
            text={props.text}
            tooltipText="Copied"
            aria-label={`Copy ${props.label}`}
          />
        </Box>
        {/* Focusable so keyboard users can scroll long content (axe: scrollable-region-focusable). */}
        <pre
          // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex
          tabIndex={0}
          aria-label={props.label}
          data-language={props.language}
          style={{
            margin: 0,
            padding: '12px 48px 12px 12px',
            overflowX: 'auto',
            fontSize: 13,
          }}
        >
          {props.text}
        </pre>
      </Paper>
      {props.fileName && (
        <Box mt={1}>
          <Button
            size="small"
            variant="outlined"
            startIcon={<GetAppIcon />}
            onClick={() => downloadText(props.fileName!, props.text)}
          >
            Download {props.fileName}
          </Button>
        </Box>
      )}
    </Box>
  );
}
