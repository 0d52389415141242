/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Intrusive doubly-linked lists. An item carries its own links, whose member names the macros
 * take, so one item can be on several lists (a memcapd connection is on the server's list and on
 * its uid's); the head is a pointer to the first item, NULL for an empty list. Adding and
 * removing cost O(1) and allocate nothing. Header only; depends on nothing.
 */

/* Put @item first on the list at @head, through its members @prev and @next. */
#define MC_LIST_PREPEND(prev, next, head, item)                                                    \
        do {                                                                                       \
                __typeof__(item) _item_ = (item);                                                  \
                _item_->prev = NULL;                                                               \
                _item_->next = (head);                                                             \
                if (_item_->next)                                                                  \
                        _item_->next->prev = _item_;                                               \
                (head) = _item_;                                                                   \
        } while (0)

/* Take @item off the list at @head; its own links are left as they were. */
#define MC_LIST_REMOVE(prev, next, head, item)                                                     \
        do {                                                                                       \
                __typeof__(item) _item_ = (item);                                                  \
                if (_item_->prev)                                                                  \
                        _item_->prev->next = _item_->next;                                         \
                else                                                                               \
                        (head) = _item_->next;                                                     \
                if (_item_->next)                                                                  \
                        _item_->next->prev = _item_->prev;                                         \
        } while (0)
