import { fireEvent } from '@testing-library/react';

/** Sets an input's value in one change event (typing char by char is slow on small CI machines). */
export function fill(element: HTMLElement, value: string) {
  fireEvent.change(element, { target: { value } });
}
